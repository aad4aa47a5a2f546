"""A drawing process forked before torch is imported: it gets matplotlib ready while the command imports torch and
samples, then draws the motion's filmstrip and videos when asked.

A fresh `syncmotion motion` imports torch on one core for 1-2 s, and then spent about 0.6 s importing matplotlib and
drawing a first figure before its export could start. Forked first, the drawing process does that on the core that
torch's import leaves idle; its own forks (the filmstrip drawn beside the video) copy a small process without torch.
It never imports torch. It ends when the command's process ends (the end of its pipe, or the parent-death signal).
Linux only, with two cores or more; elsewhere, and when none was started, the command draws in its own process.
"""

from __future__ import annotations

import atexit
import ctypes
import gc
import multiprocessing
import os
import signal
import sys
from collections.abc import Sequence
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import TYPE_CHECKING

from .forking import as_child, can_draw_beside, start_forked

if TYPE_CHECKING:
    from syncmotion.motion.types import Motion

_PR_SET_PDEATHSIG = 1
_drawer: tuple[BaseProcess, Connection] | None = None


def start() -> bool:
    """Fork the drawing process (unless one runs, torch is imported already, or there is no second core); whether one runs."""
    global _drawer
    if _drawer is not None:
        return True
    if "torch" in sys.modules or not can_draw_beside():
        return False
    context = multiprocessing.get_context("fork")
    ours, theirs = context.Pipe()
    # Not a daemon: daemons may not fork, and this one forks the filmstrip's. Stopped at exit, before multiprocessing
    # would wait for it (exit functions run last-registered first).
    process = context.Process(target=_serve, args=(theirs, ours, os.getpid()), name="syncmotion-drawer")
    try:
        start_forked(process)
    finally:
        theirs.close()
    _drawer = (process, ours)
    atexit.register(stop)
    return True


def stop() -> None:
    """End the drawing process (SIGTERM: a drawing in progress removes its files) and wait for it."""
    global _drawer
    if _drawer is None:
        return
    process, connection = _drawer
    _drawer = None
    if process.is_alive():
        process.terminate()
    process.join()
    process.close()
    connection.close()


def render_filmstrip_and_videos(motion: Motion, filmstrip: str | Path | None, videos: Sequence[str | Path],
                                progress: bool = True) -> list[Path]:
    """Write a motion's filmstrip and videos as video.render_filmstrip_and_videos does, in the drawing process when one runs."""
    if _drawer is not None and not _drawer[0].is_alive():
        stop()  # ended unasked (killed by a user or the kernel): draw here
    if _drawer is None:
        from .video import render_filmstrip_and_videos as draw_here

        return draw_here(motion, filmstrip, videos, progress)
    import numpy as np

    from syncmotion.motion.types import Motion

    process, connection = _drawer
    # What drawing reads, and nothing of the run's metadata, which may hold objects whose unpickling imports torch.
    drawn = Motion(np.asarray(motion.positions), motion.fps, list(motion.segments), list(motion.seams))
    try:
        connection.send((drawn, filmstrip, list(videos), progress))
        outcome, value = connection.recv()
    except (EOFError, OSError):
        process.join(1)
        code = process.exitcode
        stop()
        raise RuntimeError(f"the drawing process ended early (exit code {code})") from None
    except BaseException:
        stop()  # Ctrl-C or SIGTERM here: the drawing stops too, and removes its unfinished files
        raise
    if outcome == "error":
        raise value  # the drawing's own exception, as drawing here would have raised it
    return value


def _end_with(parent: int) -> None:
    """Have the kernel send SIGTERM to this process when `parent` ends (even killed outright); exit if it has ended."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # then the end of the pipe ends it, once any drawing in progress is done
    if os.getppid() != parent:
        os._exit(0)


def _serve(connection: Connection, parents_end: Connection, parent: int) -> None:
    """The drawing process: get ready, then draw each motion sent until the pipe closes."""
    as_child()
    parents_end.close()
    _end_with(parent)
    from syncmotion.files import exit_on_sigterm

    from . import video

    video.warm_up()
    # Forked from a command that collects no garbage while it imports (cli.entry): this process collects from here
    # on, leaving out what it imported.
    gc.freeze()
    gc.enable()
    while True:
        try:
            motion, filmstrip, videos, progress = connection.recv()
        except EOFError:
            return
        try:
            with exit_on_sigterm():
                reply: tuple[str, object] = ("done", video.render_filmstrip_and_videos(motion, filmstrip, videos, progress))
        except Exception as error:
            reply = ("error", error)
        try:
            connection.send(reply)
        except Exception:  # an exception that does not pickle: its type and message
            connection.send(("error", RuntimeError(f"{type(reply[1]).__name__}: {reply[1]}")))
