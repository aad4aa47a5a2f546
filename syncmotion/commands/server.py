"""`syncmotion server`: a warm process in the background, so `motion`, `render` and `convert` answer at once."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import time
from pathlib import Path

import click

from syncmotion.command_server import (
    FORWARDED,
    SUPPORTED,
    ServerError,
    check_socket_path,
    log_path,
    make_server_dir,
    request,
    serve,
    servers,
    socket_path,
)

START_WAIT_S = 120.0
# What the forwarded commands import inside the functions that need it (tests/test_command_server.py checks that a
# motion with every output format and a new prompt imports no more of syncmotion or transformers in the server's
# child). The last two are what the bundled MiniLM text encoder loads for a new prompt.
WARM_MODULES = ("syncmotion.render.ahead", "syncmotion.render.video", "syncmotion.motion.io", "syncmotion.motion.bvh",
                "syncmotion.motion.timeline",
                "syncmotion.pipelines.constrained_motion", "syncmotion.backends.minilm", "syncmotion.commands.inputs",
                "tokenizers", "safetensors.torch")

IDLE_OPTION = click.option("--idle-minutes", type=click.FloatRange(min=0, min_open=True), default=30.0,
                           show_default=True, help="Stop after this long without a command.")


@click.group()
def server() -> None:
    """Keep a warm syncmotion process so that motion, render and convert start without importing torch."""


def _check_platform() -> None:
    """Refuse where the server does not run (command_server.SUPPORTED)."""
    if not SUPPORTED:
        raise click.ClickException("syncmotion server runs on Linux only; commands run without it everywhere")


@server.command()
@IDLE_OPTION
def start(idle_minutes: float) -> None:
    """Start the server in the background; `motion`, `render` and `convert` then run in it."""
    _check_platform()
    path = socket_path()
    running = request(path, {"op": "status"})
    if running is not None:
        click.echo(f"syncmotion server: already running (pid {running['pid']})")
        return
    try:
        check_socket_path(path)
        make_server_dir()
        log = log_path(path)
    except ServerError as error:
        raise click.ClickException(str(error)) from None
    began = time.monotonic()
    with open(log, "w") as log_file:
        process = subprocess.Popen([sys.executable, "-m", "syncmotion", "server", "run", "--idle-minutes", str(idle_minutes)],
                                   stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT, cwd="/",
                                   start_new_session=True)
    while (running := request(path, {"op": "status"})) is None:
        if process.poll() is not None or time.monotonic() - began > START_WAIT_S:
            process.kill()
            lines = log.read_text(errors="replace").strip().splitlines()
            reason = lines[-1] if lines else "no message"
            raise click.ClickException(f"the server did not start ({reason}); its log is {log}")
        time.sleep(0.05)
    click.echo(f"syncmotion server: ready in {time.monotonic() - began:.1f} s (pid {running['pid']}); "
               f"{', '.join(FORWARDED)} now start warm. It stops after {idle_minutes:g} idle minutes or with "
               "`syncmotion server stop`.")


@server.command()
def stop() -> None:
    """Stop this user's servers (commands they are running finish first)."""
    stopped = 0
    for path, status in servers():
        if status is None:
            path.unlink(missing_ok=True)  # nobody listens there any more
            continue
        if request(path, {"op": "stop"}) is not None:
            _wait_gone(path)
            stopped += 1
    click.echo(f"syncmotion server: stopped {stopped} server{'s' if stopped != 1 else ''}" if stopped
               else "syncmotion server: none was running")


def _wait_gone(path: Path, timeout: float = 10.0) -> None:
    """Wait until the server at `path` has removed its socket."""
    deadline = time.monotonic() + timeout
    while path.exists() and time.monotonic() < deadline:
        time.sleep(0.02)


@server.command()
def status() -> None:
    """Show this user's servers: pid, commands run, and whether they run this installation's code."""
    found = [(path, answer) for path, answer in servers() if answer is not None]
    if not found:
        click.echo("syncmotion server: none is running; `syncmotion server start` starts one")
        return
    for path, answer in found:
        which = "this installation" if answer.get("current") and path == socket_path() else \
            "other code or settings (unused here; `syncmotion server stop` stops it)"
        click.echo(f"pid {answer['pid']}: {which}; {answer['commands']} commands run, {answer['running']} running, "
                   f"stops after {answer['idle_seconds_left'] / 60:.1f} more idle minutes")


@server.command()
@IDLE_OPTION
@click.pass_context
def run(ctx: click.Context, idle_minutes: float) -> None:
    """Run the server in this terminal until Ctrl-C, `syncmotion server stop` or the idle time (for service managers)."""
    _check_platform()
    path = socket_path()  # before the imports below, which set variables of their own
    try:
        check_socket_path(path)
    except ServerError as error:
        raise click.ClickException(str(error)) from None
    program = ctx.find_root().command
    assert isinstance(program, click.Group)
    for name in FORWARDED:
        program.get_command(ctx, name)
    for module in WARM_MODULES:
        importlib.import_module(module)

    def run_command(argv: list[str]) -> int:
        try:
            program.main(args=argv, prog_name="syncmotion", standalone_mode=True)
        except SystemExit as exit_:
            return exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        return 0

    def ready(path: Path) -> None:
        click.echo(f"syncmotion server: listening at {path} (pid {os.getpid()})", err=True)

    try:
        serve(path, run_command, idle_minutes * 60, ready)
    except ServerError as error:
        raise click.ClickException(str(error)) from None
