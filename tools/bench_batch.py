"""Many motions: `syncmotion batch` on a local Ray cluster with 1 and 2 workers against a plain loop of `syncmotion motion`.

    python tools/bench_batch.py [--jobs 12] [--seconds 4] [--no-write]

Every row makes the same jobs (one text prompt each, its own seed, the embedded model, npy+json+bvh) as fresh
processes, the way a user runs them, so start-up counts: for the loop, one `syncmotion motion` process (and model
load) per job; for batch, one command that starts Ray and its workers, each loading the model once. Texts are
embedded once before the timed rows (a warm text cache), so no row pays for that. Needs Ray (pip install -e ".[batch]").
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click
import torch

from syncmotion_lab.benchdoc import markdown_table, write_section

SYNCMOTION = [sys.executable, "-c", "from syncmotion.cli import main; main()"]
PROMPTS = ["a person walks forward", "a person jumps in place", "a person waves with the right hand",
           "a person sits down", "a person turns around", "a person kicks with the left leg"]
FORMATS = "npy,json,bvh"
_MADE = re.compile(r"made (\d+) of \d+ in ([\d.]+) s .*?, (\d+) model loads?")


def syncmotion(arguments: list[str], environment: dict[str, str]) -> tuple[float, str]:
    """Wall seconds and output of one `syncmotion` process; a failing command stops the benchmark."""
    start = time.perf_counter()
    result = subprocess.run([*SYNCMOTION, *arguments], capture_output=True, text=True, env=environment)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise click.ClickException(f"syncmotion {' '.join(arguments[:3])} failed: {(result.stdout + result.stderr).strip()[-400:]}")
    return elapsed, result.stdout


def _same_files(first: Path, second: Path) -> bool:
    """Whether two batch outputs hold the same files with the same bytes, manifests aside (they record times)."""
    def files(folder: Path) -> dict[str, bytes]:
        return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*"))
                if path.is_file() and path.name != "syncmotion-run.json"}
    return files(first) == files(second)


@click.command()
@click.option("--jobs", "count", type=click.IntRange(min=2), default=12, show_default=True, help="Jobs in each row.")
@click.option("--seconds", type=click.FloatRange(min=1), default=4, show_default=True, help="Seconds of motion per job.")
@click.option("--write/--no-write", default=True, show_default=True, help="Update docs/benchmarks.md.")
def main(count: int, seconds: float, write: bool) -> None:
    """Print (and record) jobs per minute of a plain loop and of `syncmotion batch` with 1 and 2 workers."""
    jobs = [{"id": f"job-{index:02d}", "text": PROMPTS[index % len(PROMPTS)], "seconds": seconds, "seed": index}
            for index in range(count)]
    rows = []
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        environment = {**os.environ, "TQDM_DISABLE": "1", "SYNCMOTION_CACHE_DIR": str(scratch / "cache"),
                       "RAY_USAGE_STATS_ENABLED": "0"}
        (scratch / "jobs.jsonl").write_text("".join(json.dumps(job) + "\n" for job in jobs))
        syncmotion(["motion", "--text", "; ".join(PROMPTS), "--seconds", "1", "--steps", "1", "--formats", "npy",
                    "--out", str(scratch / "warm")], environment)
        started = time.perf_counter()
        for job in jobs:
            syncmotion(["motion", "--text", job["text"], "--seconds", str(seconds), "--seed", str(job["seed"]),
                        "--formats", FORMATS, "--out", str(scratch / "loop" / job["id"])], environment)
        loop = time.perf_counter() - started
        rows.append(["plain loop of `syncmotion motion` (torch's default threads)", f"{loop:.1f}", f"{count / loop * 60:.1f}",
                     "-", count])
        for workers, cpus in ((1, 1), (1, os.cpu_count() or 1), (2, 1)):
            if workers * cpus > (os.cpu_count() or 1) or (workers, cpus) == (1, 1) and os.cpu_count() == 1:
                continue
            out = scratch / f"batch-{workers}x{cpus}"
            wall, output = syncmotion(["batch", str(scratch / "jobs.jsonl"), "--out", str(out), "--workers", str(workers),
                                       "--cpus-per-worker", str(cpus), "--formats", FORMATS], environment)
            made = _MADE.search(output)
            if made is None or int(made[1]) != count:
                raise click.ClickException(f"batch made fewer than {count} jobs: {output.strip()[-400:]}")
            rows.append([f"`syncmotion batch`, {workers} worker{'s' if workers > 1 else ''} x {cpus} thread{'s' if cpus > 1 else ''}",
                         f"{wall:.1f}", f"{count / wall * 60:.1f}", f"{count / float(made[2]) * 60:.1f}", made[3]])
        same = _same_files(scratch / "batch-1x1", scratch / "batch-2x1")
    load_after = os.getloadavg()[0]
    table = markdown_table(["how", "wall s", "jobs/min (whole command)", "jobs/min (from the workers' start)",
                            "model loads"], rows)
    click.echo(table)
    if write:
        write_section("bench_batch", f"""## Many motions: `syncmotion batch` on Ray against a plain loop (`tools/bench_batch.py`)

{count} jobs, each one text prompt of {seconds:g} s with its own seed, embedded model, its default steps, {FORMATS}
written; every row a fresh process as a user runs it ("whole command": imports, Ray's start, the workers' start and
model loads, generation, writing; the next column leaves out the command's imports and Ray's start). Text embeddings
cached before the rows. Machine: {os.cpu_count()}-core CPU ({platform.processor() or platform.machine()}, torch
{torch.__version__}), shared with other jobs (1-minute load average {load_before:.1f} before the rows, {load_after:.1f}
after), so compare rows of one run. The 1 x 1 and 2 x 1 rows' files (all but
the manifests) {"are byte-identical" if same else "DIFFER"}: same torch thread count; the loop and the 1 x {os.cpu_count()} row
run torch with another thread count, which changes the last bits.

{table}
""")


if __name__ == "__main__":
    main()
