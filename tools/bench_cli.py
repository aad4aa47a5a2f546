"""Where users wait: whole `syncmotion` commands timed as fresh processes, several runs each (min / median / max).

    python tools/bench_cli.py [--runs 5] [--no-write]

Each command runs in a new process, as a user or a script calls it, so start-up (imports, model and text-encoder
loading) counts. The rows run interleaved (run 1 of every command, then run 2, ...), so a busy moment on a shared
machine spreads over the rows instead of landing on one.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click
import torch

from syncmotion.resources import REPO_ROOT
from syncmotion_lab.benchdoc import markdown_table, write_section

SYNCMOTION = [sys.executable, "-c", "from syncmotion.cli import main; main()"]
# The fastest sampling that keeps the default's top-1 on the long-motion benchmark (models/EMBEDDED.md; not the default).
FEWER_STEPS = ["--scheduler", "dpmsolver++", "--steps", "20"]


def commands(scratch: Path) -> list[tuple[str, list[str]]]:
    """(label, arguments) of each timed command; outputs go under `scratch`."""
    demo = str(REPO_ROOT / "sequences" / "demo.txt")
    return [
        ("syncmotion --help", ["--help"]),
        ("syncmotion --version", ["--version"]),
        ("4 s one-line motion, npy", ["motion", "--text", "a person walks forward", "--seconds", "4", "--formats", "npy",
                                      "--out", str(scratch / "short")]),
        ("4 s one-line motion, npy, --scheduler dpmsolver++ --steps 20",
         ["motion", "--text", "a person walks forward", "--seconds", "4", "--formats", "npy", *FEWER_STEPS,
          "--out", str(scratch / "short-dpm")]),
        ("demo.txt (30 s), npy only", ["motion", demo, "--formats", "npy", "--out", str(scratch / "demo-npy")]),
        ("demo.txt (30 s), all five files", ["motion", demo, "--out", str(scratch / "demo")]),
        ("demo.txt (30 s), all five files, --scheduler dpmsolver++ --steps 20",
         ["motion", demo, *FEWER_STEPS, "--out", str(scratch / "demo-dpm")]),
        ("render demo results.npy to mp4", ["render", str(scratch / "demo" / "results.npy"), "--out", str(scratch / "demo.mp4")]),
    ]


def timed(arguments: list[str], cache: Path) -> float:
    """Wall seconds of one fresh `syncmotion` process; a failing command stops the benchmark."""
    start = time.perf_counter()
    environment = {**os.environ, "TQDM_DISABLE": "1", "SYNCMOTION_CACHE_DIR": str(cache)}
    result = subprocess.run([*SYNCMOTION, *arguments], capture_output=True, text=True, env=environment)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise click.ClickException(f"syncmotion {' '.join(arguments)} failed: {result.stderr.strip().splitlines()[-1:]}")
    return elapsed


@click.command()
@click.option("--runs", type=click.IntRange(min=1), default=5, show_default=True, help="Runs of each command.")
@click.option("--write/--no-write", default=True, show_default=True, help="Update docs/benchmarks.md.")
def main(runs: int, write: bool) -> None:
    """Print (and record) wall times of the commands users wait for."""
    with tempfile.TemporaryDirectory() as folder:
        rows = commands(Path(folder))
        times: dict[str, list[float]] = {label: [] for label, _ in rows}
        for _ in range(runs):
            for label, arguments in rows:
                times[label].append(timed(arguments, Path(folder) / "cache"))
    table = markdown_table(
        ["command", "min s", "median s", "max s"],
        [[label, f"{min(t):.2f}", f"{statistics.median(t):.2f}", f"{max(t):.2f}"] for label, t in times.items()],
    )
    click.echo(table)
    if write:
        write_section("bench_cli", f"""## Command wall times (`tools/bench_cli.py`)

Whole `syncmotion` commands as fresh processes ({runs} runs each, interleaved; start-up, model loading and writing
count), embedded model, default settings, a text-embedding cache empty before the first run (so the first run of
a command with new prompts embeds them, later runs read them back), on this machine's {os.cpu_count()}-core CPU
({platform.processor() or platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads). The CPU may
be shared with other jobs: compare rows of one run.

{table}
""")


if __name__ == "__main__":
    main()
