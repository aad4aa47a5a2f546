"""Drawing processes forked from this one: where they may run, and how they start and take signals.

Only drawing (matplotlib, NumPy, ffmpeg) runs in them, never torch, so forking a process that has used torch's
threads is safe for them. Linux only: elsewhere everything is drawn in the command's own process.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import warnings


def forking_cores() -> int:
    """The cores forked drawing processes may use here: 0 where processes are not forked (Linux only)."""
    if not sys.platform.startswith("linux") or "fork" not in multiprocessing.get_all_start_methods():
        return 0
    return len(os.sched_getaffinity(0))


def can_draw_beside() -> bool:
    """Whether a forked process can draw while this one works, on a core of its own."""
    return forking_cores() >= 2


def start_forked(process: multiprocessing.process.BaseProcess) -> None:
    """Start a forked drawing process with SIGINT and SIGTERM blocked across the fork (it takes its own, as_child)."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        with warnings.catch_warnings():
            # Python 3.12+ warns of fork() in a process with threads (torch's); the child runs only our drawing.
            warnings.filterwarnings("ignore", message=".*use of fork\\(\\) may lead to deadlocks", category=DeprecationWarning)
            process.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def as_child() -> None:
    """In a forked drawing process: the parent stops it with SIGTERM and takes Ctrl-C for it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
