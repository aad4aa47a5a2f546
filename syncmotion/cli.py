"""The `syncmotion` command line: one click group, one module per command."""

from __future__ import annotations

import atexit
import ctypes
import functools
import gc
import importlib
import os
import sys
from typing import NamedTuple

import click

from syncmotion.command_server import forward

# transformers warns on import about optional image backends (torchvision) that no command here uses;
# users should see our progress and results, not that. Real errors still show.
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


class LazyCommand(NamedTuple):
    """Where a command is (module:attribute) and its one-line help for the command list."""

    target: str
    short_help: str


# Each command lives in its own module under syncmotion/commands and is imported only when used, so a missing
# optional extra breaks only its own command. Its one-line help is kept here too: `syncmotion --help` lists every
# command, and importing them all to ask would import torch and diffusers (seconds) just to print a page.
# tests/test_cli.py checks that each line here is the command's own.
COMMANDS: dict[str, LazyCommand] = {
    "wide": LazyCommand("syncmotion.commands.wide:wide", "Make a wide image (default 512×2048) for PROMPT."),
    "masked-t2i": LazyCommand("syncmotion.commands.masked_t2i:masked_t2i",
                              "Make one image with BACKGROUND outside the mask and OBJECT inside it."),
    "anagram": LazyCommand("syncmotion.commands.anagram:anagram",
                           "Make an image that shows FIRST, and SECOND when turned by --view."),
    "edit": LazyCommand("syncmotion.commands.edit:edit",
                        "Edit IMAGE from what SOURCE describes to TARGET, changing only the region of the words that differ."),
    "texture": LazyCommand("syncmotion.commands.texture:texture",
                           "Paint a texture on MESH (.obj, .glb, .ply) for PROMPT from several synchronized views."),
    "motion": LazyCommand("syncmotion.commands.motion:motion",
                          "Generate one long motion from SCRIPT (lines `TEXT | 6s`) or from --text, and write it to --out."),
    "batch": LazyCommand("syncmotion.commands.batch:batch",
                         "Make many motions and wide images: JOBS is a folder of scripts or a JSONL file of jobs; on Ray, resumable."),
    "render": LazyCommand("syncmotion.commands.render:render",
                          "Render MOTION_FILE (.json, .bvh, .glb/.gltf or MDM results .npy) as an animation or a filmstrip."),
    "convert": LazyCommand("syncmotion.commands.convert:convert",
                           "Convert SOURCE to TARGET, formats by suffix: .npy (MDM results), .json, .bvh, .glb, .gltf."),
    "server": LazyCommand("syncmotion.commands.server:server",
                          "Keep a warm syncmotion process so that motion, render and convert start without importing torch."),
    "view": LazyCommand("syncmotion.commands.view:view",
                        "Serve the viewer for PATHS (motion .json/.glb/.gltf/.bvh/results .npy files, or output folders) "
                        "on 127.0.0.1."),
}


class LazyGroup(click.Group):
    """A click group that imports a command's module on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Names of all commands, sorted."""
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        """The command called `name`, imported on demand."""
        if name not in COMMANDS:
            return None
        module_name, _, attribute = COMMANDS[name].target.partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        _collect_from_now_on()
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of --help from COMMANDS, shortened as click shortens it, without importing any command."""
        limit = formatter.width - 6 - max(len(name) for name in COMMANDS)
        rows = [(name, click.Command(name, help=COMMANDS[name].short_help).get_short_help_str(limit))
                for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="syncmotion")
def main() -> None:
    """Long motions and wide images from pretrained diffusion models, synchronized with SyncSDE."""
    _skip_final_collection()


@functools.cache
def _skip_final_collection() -> None:
    """At exit, leave the objects of this run out of the interpreter's last garbage collections (once a process).

    Python collects every tracked object as it shuts down: with torch imported (some 200,000 objects) that took
    0.4-0.5 s on a 2-core CPU, a sixth of a short `syncmotion motion`. Nothing syncmotion leaves at exit needs
    collecting (its files are closed by then), and the operating system frees the memory.
    """
    atexit.register(gc.freeze)


def _collect_from_now_on() -> None:
    """Once the command's modules are imported: collect garbage again, leaving out everything imported (entry)."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def entry() -> None:
    """The `syncmotion` program: a command runs in this installation's warm server where one runs, else here (and a
    motion that writes a video or filmstrip has it drawn by a process started ahead, syncmotion.render.ahead)."""
    # Importing a command (torch and its 200,000 objects) triggered full garbage collections that found nothing
    # and took 0.2-0.3 s of a fresh `syncmotion motion` on a 2-core CPU. None run until the command is imported;
    # the imported objects are then frozen out of later collections, which go on as usual (_collect_from_now_on).
    gc.disable()
    _keep_freed_memory()
    atexit.register(_end_without_teardown)  # the first exit function registered, so the last to run
    try:
        code = forward(sys.argv[1:])
        if code is not None:
            sys.exit(code)
        from syncmotion.commands.motion_formats import will_draw  # a few lines; the commands stay unimported

        if will_draw(sys.argv[1:]):
            from syncmotion.render import ahead

            ahead.start()  # before the command imports torch: it gets ready on the core that torch's import leaves idle
        main(prog_name="syncmotion")
    except SystemExit as exit_:
        _exit_code.append(exit_.code if isinstance(exit_.code, int) else 0 if exit_.code is None else 1)
        raise


_exit_code: list[int] = []  # how the command ended, once it has (entry)
# glibc's mallopt parameters.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def _keep_freed_memory() -> None:
    """Have the C allocator keep what torch frees for reuse rather than hand it back to the system (glibc only)."""
    # torch allocates and frees a sampling step's activations (megabytes each) every step. By default glibc maps
    # large blocks afresh and trims freed heap, so every step faults those pages in again: a fresh demo's sampling
    # took 2.21 s against 1.81 s with both thresholds raised (medians of 3, interleaved, 2-core CPU). Setting one
    # alone turns off glibc's own tuning of the other and was slower still (2.53 s, 4.12 s). The memory is the
    # process's peak either way; it goes back to the system when the command ends.
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return  # not glibc (macOS, Windows): its allocator keeps its own habits
    mallopt(_M_MMAP_THRESHOLD, 256 << 20)
    mallopt(_M_TRIM_THRESHOLD, 1 << 30)


def _end_without_teardown() -> None:
    """The last exit function: end the process with the command's exit code, skipping the interpreter's teardown.

    Tearing down every module (torch's among them) took 0.15-0.2 s of a short command on a 2-core CPU, after all of
    its work was done: by now the command's files are closed (written whole by files.write_atomically), threads that
    are not daemons have been joined and every other exit function has run, as Python runs them before this one.
    A command that ended in an uncaught exception is left to Python's own ending.
    """
    if not _exit_code:
        return
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass  # a reader that has gone (`| head`), or a closed stream: nothing more can reach it
    os._exit(_exit_code[-1])
