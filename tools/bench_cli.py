"""Where users wait: whole `syncmotion` commands timed as fresh processes, several runs each (min / median / max).

    python tools/bench_cli.py [--runs 5] [--no-write] [--server] [--baseline CHECKOUT]

Each command runs in a new process, as a user or a script calls it, so start-up (imports, model and text-encoder
loading) counts. The rows run interleaved (run 1 of every command, then run 2, ...), so a busy moment on a shared
machine spreads over the rows instead of landing on one. With --server each command also runs while a
`syncmotion server` of this checkout is up (started once, before the runs), interleaved with the fresh runs.
Every checkout's bytecode is written before the runs, as a user's first run leaves it (a machine that sets
PYTHONDONTWRITEBYTECODE would otherwise compile the package in every run).
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
from syncmotion_lab.command_timing import SYNCMOTION, compile_sources, timed, user_environment

# A prompt that is not one of the model's training texts, timed with an empty text-embedding cache every run: what
# each new wording costs (the text encoder's import and load).
NEW_PROMPT_ROW = "4 s motion, a new prompt, npy"


def commands(scratch: Path) -> list[tuple[str, list[str]]]:
    """(label, arguments) of each timed command; outputs go under `scratch`."""
    demo = str(REPO_ROOT / "sequences" / "demo.txt")
    return [
        ("syncmotion --help", ["--help"]),
        ("syncmotion --version", ["--version"]),
        ("4 s one-line motion, npy", ["motion", "--text", "a person walks forward", "--seconds", "4", "--formats", "npy",
                                      "--out", str(scratch / "short")]),
        (NEW_PROMPT_ROW, ["motion", "--text", "a person hops on one leg, then crawls", "--seconds", "4", "--formats", "npy",
                          "--out", str(scratch / "new-prompt")]),
        ("demo.txt (30 s), npy only", ["motion", demo, "--formats", "npy", "--out", str(scratch / "demo-npy")]),
        ("demo.txt (30 s), all five files", ["motion", demo, "--out", str(scratch / "demo")]),
        ("render demo results.npy to mp4", ["render", str(scratch / "demo" / "results.npy"), "--out", str(scratch / "demo.mp4")]),
    ]


def _start_server(servers: Path) -> float:
    """Start a `syncmotion server` of this checkout in `servers` and return the seconds `server start` took."""
    start = time.perf_counter()
    result = subprocess.run([*SYNCMOTION, "server", "start"], capture_output=True, text=True,
                            env=user_environment(SYNCMOTION_SERVER_DIR=str(servers)))
    if result.returncode != 0:
        raise click.ClickException(f"syncmotion server start failed: {result.stderr.strip()}")
    elapsed = time.perf_counter() - start
    # The timed commands must find this server: one started under other import-time variables has another name
    # (the probe imports cli, as the commands do, for the variables cli sets).
    probe = subprocess.run([sys.executable, "-c", "from syncmotion import cli, command_server; print(command_server.socket_path())"],
                           capture_output=True, text=True, check=True,
                           env=user_environment(TQDM_DISABLE="1", SYNCMOTION_SERVER_DIR=str(servers)))
    if not Path(probe.stdout.strip()).exists():
        raise click.ClickException("the timed commands would not find the server started for them; "
                                   "check the variables user_environment sets")
    return elapsed


def _describe(checkout: Path) -> str:
    """A checkout as its commit (short hash), or its path when git cannot say."""
    result = subprocess.run(["git", "-C", str(checkout), "log", "-1", "--format=%h"], capture_output=True, text=True)
    return f"commit {result.stdout.strip()}" if result.returncode == 0 and result.stdout.strip() else str(checkout)


@click.command()
@click.option("--runs", type=click.IntRange(min=1), default=5, show_default=True, help="Runs of each command.")
@click.option("--write/--no-write", default=True, show_default=True, help="Update docs/benchmarks.md.")
@click.option("--server", "with_server", is_flag=True,
              help="Also time each command with a `syncmotion server` of this checkout running.")
@click.option("--baseline", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="A checkout of another syncmotion version (e.g. `git worktree add /tmp/old COMMIT`): each command "
                   "also runs from it, interleaved, and the table gives both medians and their ratio.")
def main(runs: int, write: bool, with_server: bool, baseline: Path | None) -> None:
    """Print (and record) wall times of the commands users wait for."""
    baseline_label = _describe(baseline) if baseline is not None else ""
    sources: dict[str, Path | None] = {"this": None, **({"server": None} if with_server else {}),
                                       **({"baseline": baseline.resolve()} if baseline else {})}
    for source in set(sources.values()):  # "this" and "server" are the same checkout
        compile_sources(source)
    # A short folder of its own: Unix socket paths are short, and a server the user runs must not answer here.
    with tempfile.TemporaryDirectory() as folder, tempfile.TemporaryDirectory(prefix="sm", dir="/tmp") as servers:
        server_start = _start_server(Path(servers) / "server") if with_server else 0.0
        try:
            times: dict[str, dict[str, list[float]]] = {}
            for run in range(runs):
                for version, source in sources.items():
                    # Each version writes and caches in its own folders, so neither reads what the other made.
                    rows = commands(Path(folder) / version)
                    for label, arguments in rows:
                        cache = Path(folder) / version / (f"cache-{run}" if label == NEW_PROMPT_ROW else "cache")
                        times.setdefault(label, {}).setdefault(version, []).append(
                            timed(arguments, cache, Path(servers) / version, source))
        finally:
            if with_server:
                subprocess.run([*SYNCMOTION, "server", "stop"], capture_output=True,
                               env=user_environment(SYNCMOTION_SERVER_DIR=str(Path(servers) / "server")))
    headers = ["command", "min s", "median s", "max s"]
    if with_server:
        headers += ["with server: min s", "median s", "max s", "server / fresh"]
    if baseline is not None:
        headers += ["baseline median s", "this / baseline"]
    lines = []
    for label, by_version in times.items():
        now = by_version["this"]
        line = [label, f"{min(now):.2f}", f"{statistics.median(now):.2f}", f"{max(now):.2f}"]
        if with_server:
            warm = by_version["server"]
            line += [f"{min(warm):.2f}", f"{statistics.median(warm):.2f}", f"{max(warm):.2f}",
                     f"{statistics.median(warm) / statistics.median(now):.2f}"]
        if baseline is not None:
            before = statistics.median(by_version["baseline"])
            line += [f"{before:.2f}", f"{statistics.median(now) / before:.2f}"]
        lines.append(line)
    table = markdown_table(headers, lines)
    click.echo(table)
    baseline_note = ("" if baseline is None else
                     f" Baseline: the same commands from `{baseline_label}` (with its defaults), run interleaved with these.")
    if with_server:
        baseline_note += (f" \"With server\": the same commands while `syncmotion server start` (which took {server_start:.1f} s, "
                          "once) keeps a warm process that motion, render and convert run in; help and version never use it.")
    if write:
        write_section("bench_cli", f"""## Command wall times (`tools/bench_cli.py`)

Whole `syncmotion` commands as fresh processes ({runs} runs each, interleaved; start-up, model loading and writing
count), embedded model, default settings, a text-embedding cache empty before the first run (so the first run of
a command with new prompts embeds them, later runs read them back), the package's bytecode written beforehand (as
a user's first run leaves it), on this machine's {os.cpu_count()}-core CPU
({platform.processor() or platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads). The CPU may
be shared with other jobs: compare rows of one run.{baseline_note}

{table}
""")


if __name__ == "__main__":
    main()
