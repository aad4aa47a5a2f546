"""Whole `syncmotion` commands timed as fresh processes, as users and scripts call them (tools/bench_*.py)."""

from __future__ import annotations

import compileall
import os
import subprocess
import sys
import time
from pathlib import Path

import click

from syncmotion.resources import REPO_ROOT

# `entry` forwards to a running server; checkouts older than the server have only `main`.
SYNCMOTION = [sys.executable, "-c", "from syncmotion import cli; getattr(cli, \"entry\", cli.main)()"]


def compile_sources(source: Path | None = None) -> None:
    """Write the bytecode of the package in `source` (default: this checkout), as a user's first run leaves it."""
    compileall.compile_dir(str((source or REPO_ROOT) / "syncmotion"), quiet=1)


def user_environment(**variables: str) -> dict[str, str]:
    """This process's environment as a user's shell has it, plus `variables`."""
    environment = {**os.environ, **variables}
    # Users' Python reads the bytecode it wrote on the first run; a machine that sets this would compile every run.
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    return environment


def timed(arguments: list[str], cache: Path, servers: Path, source: Path | None = None) -> float:
    """Wall seconds of one fresh `syncmotion` process (imported from the checkout `source` if given) that finds its
    servers in `servers`; a failing command stops the benchmark."""
    start = time.perf_counter()
    environment = user_environment(TQDM_DISABLE="1", SYNCMOTION_CACHE_DIR=str(cache), SYNCMOTION_SERVER_DIR=str(servers))
    if source is not None:
        environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(source), os.environ.get("PYTHONPATH")]))
    # Run outside any checkout: `python -c` puts the working folder first on sys.path, ahead of PYTHONPATH.
    cache.mkdir(parents=True, exist_ok=True)
    result = subprocess.run([*SYNCMOTION, *arguments], capture_output=True, text=True, env=environment, cwd=cache)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise click.ClickException(f"syncmotion {' '.join(arguments)} failed: {result.stderr.strip().splitlines()[-1:]}")
    return elapsed
