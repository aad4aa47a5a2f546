"""The command group: --help and --version answer at once, without importing any command (torch, diffusers)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import click
import numpy as np
import pytest
from click.testing import CliRunner

from syncmotion.cli import COMMANDS, main

HEAVY = ("torch", "diffusers", "transformers", "sklearn", "scipy", "matplotlib", "syncmotion.commands")


def fresh_interpreter(*arguments: str, watched: tuple[str, ...] = HEAVY) -> tuple[str, list[str]]:
    """Output of `syncmotion ARGUMENTS` in a new interpreter, and which `watched` modules it imported."""
    script = ("import json, sys\nfrom syncmotion.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
              f"print(json.dumps(sorted(set(sys.modules) & set({list(watched)!r}))))")
    result = subprocess.run([sys.executable, "-c", script, *arguments], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    output, _, imported = result.stdout.rstrip("\n").rpartition("\n")
    return output, json.loads(imported)


@pytest.mark.parametrize("option", ["--help", "-h", "--version"])
def test_help_and_version_import_no_command(option):
    output, imported = fresh_interpreter(option)
    assert imported == [], f"`syncmotion {option}` imported {imported}"
    if option != "--version":
        for name, command in COMMANDS.items():
            assert f"  {name}" in output and command.short_help.split()[0] in output


def test_a_default_motion_imports_no_diffusers_or_slow_scipy(tmp_path):
    # Each of these took 0.1-1.6 s to import on a 2-core CPU, more than a short motion's sampling (docs/benchmarks.md).
    slow = ("diffusers", "scipy.signal", "scipy.stats")
    output, imported = fresh_interpreter("motion", "--text", "a person walks forward", "--seconds", "2", "--steps", "2",
                                         "--formats", "npy", "--out", str(tmp_path / "out"), watched=(*slow, "torch"))
    assert (tmp_path / "out" / "results.npy").exists(), output
    assert imported == ["torch"], f"a default motion imported {imported}"


def test_a_motion_with_a_new_prompt_embeds_it_without_transformers(tmp_path, monkeypatch):
    # transformers' import took 2.4 s of a new prompt's 3.5 s; MiniLM runs on backends/bert.py and tokenizers.
    monkeypatch.setenv("SYNCMOTION_CACHE_DIR", str(tmp_path / "cache"))
    output, imported = fresh_interpreter("motion", "--text", "a person hops on one leg, then crawls", "--seconds", "2",
                                         "--steps", "2", "--formats", "npy", "--out", str(tmp_path / "out"),
                                         watched=("transformers", "tokenizers"))
    assert (tmp_path / "out" / "results.npy").exists() and "read as" in output, output
    assert imported == ["tokenizers"], f"a new prompt imported {imported}"


@pytest.mark.parametrize("name", ["motion.json", "results.npy"])
def test_rendering_a_motion_file_imports_no_torch(tmp_path, name):
    # torch took 1.3 s of a 30 s motion's 4.8 s render on a 2-core CPU; drawing needs only the positions.
    from syncmotion.motion.io import save_motions
    from syncmotion.motion.types import Motion, Segment

    rng = np.random.default_rng(0)
    motion = Motion(positions=rng.normal(size=(30, 22, 3)).astype(np.float32), fps=20.0, segments=[Segment("walk", 0, 30)])
    source = save_motions([motion], tmp_path / name)[0]
    output, imported = fresh_interpreter("render", str(source), "--out", str(tmp_path / "motion.mp4"),
                                         watched=("torch", "scipy"))
    assert (tmp_path / "motion.mp4").stat().st_size > 0, output
    assert imported == [], f"rendering {name} imported {imported}"


def test_each_listed_help_line_is_the_commands_own():
    context = click.Context(main)
    for name, command in COMMANDS.items():
        assert command.short_help == main.get_command(context, name).get_short_help_str(limit=1000), name


def test_the_command_list_is_the_one_click_would_print():
    listed = CliRunner().invoke(main, ["--help"], terminal_width=60).output
    context = click.Context(main)
    eager = click.Group("syncmotion", commands={name: main.get_command(context, name) for name in COMMANDS})
    expected = CliRunner().invoke(eager, ["--help"], terminal_width=60).output
    assert listed.split("Commands:")[1] == expected.split("Commands:")[1]


def test_a_commands_help_is_its_full_help():
    result = CliRunner().invoke(main, ["motion", "--help"])
    assert result.exit_code == 0
    assert "Generate one long motion from SCRIPT" in result.output and "--snap-text" in result.output


def test_a_command_skips_the_final_garbage_collection_once():
    code = ("import atexit, gc\nregistered = []\nregister = atexit.register\n"
            "atexit.register = lambda f, *a, **k: (registered.append(f), register(f, *a, **k))[1]\n"
            "from syncmotion.cli import main\n"
            "for _ in range(2):\n    try:\n        main(['render', '--help'])\n    except SystemExit:\n        pass\n"
            "print(sum(f is gc.freeze for f in registered))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "1"


def test_syncmotion_collects_no_garbage_while_it_imports_a_command_and_collects_after():
    # Full collections during torch's import found nothing and took 0.2-0.3 s of a fresh motion (cli.entry).
    script = ("import gc, sys\nfull = []\ngc.callbacks.append(lambda phase, info: full.append(1) if phase == 'start' and "
              "info['generation'] == 2 else None)\nfrom syncmotion.cli import entry\ntry:\n    entry()\nexcept SystemExit:\n"
              "    pass\nprint(len(full), gc.isenabled(), gc.get_freeze_count() > 10000)")
    result = subprocess.run([sys.executable, "-c", script, "motion", "--help"], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "SYNCMOTION_SERVER_DIR": "/nonexistent-syncmotion-server"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "0 True True"


def test_syncmotion_ends_with_the_commands_code_after_its_output_and_exit_functions():
    # entry() ends the process without the interpreter's teardown (0.15-0.2 s of a short command): nothing may be lost.
    script = textwrap.dedent("""
        import atexit, sys
        import click
        from syncmotion import cli

        @click.command()
        def probe():
            atexit.register(lambda: sys.stdout.write("exit function ran"))  # registered by the command: runs first
            sys.stdout.write("y" * 200_000 + "\\n")  # buffered, never flushed by the command
            sys.exit(3)

        cli.COMMANDS["probe"] = cli.LazyCommand("__main__:probe", "A command that writes and ends with code 3.")
        sys.argv = ["syncmotion", "probe"]
        cli.entry()
    """)
    environment = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}  # stdout buffered
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            env={**environment, "SYNCMOTION_SERVER_DIR": "/nonexistent-syncmotion-server"})
    assert result.returncode == 3, result.stderr
    assert result.stdout == "y" * 200_000 + "\n" + "exit function ran"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
@pytest.mark.parametrize("kept", [True, False])
def test_freed_memory_stays_with_the_process_for_reuse_once_syncmotion_starts(kept):
    # cli._keep_freed_memory: torch's per-step activations are then reused, not faulted in again every step.
    script = textwrap.dedent(f"""
        import ctypes
        from syncmotion import cli

        class MallInfo2(ctypes.Structure):
            _fields_ = [(name, ctypes.c_size_t) for name in
                        ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

        libc = ctypes.CDLL(None)
        if {kept}:
            cli._keep_freed_memory()
        block = bytearray(64 << 20)
        del block
        libc.mallinfo2.restype = MallInfo2
        print(libc.mallinfo2().fordblks >= 64 << 20)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    if "undefined symbol: mallinfo2" in result.stderr:
        pytest.skip("this C library has no mallinfo2 (glibc 2.33 or later)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(kept)]
