"""Render speed: a 60 s motion (1200 frames) to mp4 and gif, and a filmstrip, on this machine.

    python tools/bench_render.py [--seconds 60] [--workers 1,2] [--repeat 1] [--no-write]

Each video is rendered with each count of drawing processes in --workers (1: drawn in this process, as render_video
does on up to two cores, with one x264 thread; more: forked workers, as it does on more cores); the best of --repeat
runs is shown, with the CPU time of the whole render (this process, the workers and ffmpeg): other jobs may share
the cores, and then the wall time says less.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from unittest import mock

import click
import numpy as np

from syncmotion.motion.features import canonicalize
from syncmotion.motion.types import Motion, Segment
from syncmotion.render import render_filmstrip, render_video, video
from syncmotion_lab.benchdoc import markdown_table, write_section
from syncmotion_lab.corpus import sample_clip


def corpus_motion(seconds: float, seed: int = 0) -> Motion:
    """Corpus clips laid end to end (each placed where the last ended) until `seconds` are filled."""
    rng = np.random.default_rng(seed)
    pieces, segments, frames, offset = [], [], 0, np.zeros(3)
    while frames < seconds * 20:
        clip = sample_clip(rng)
        positions = canonicalize(clip.positions) + offset
        offset = positions[-1, 0] * np.array([1.0, 0.0, 1.0])
        pieces.append(positions)
        segments.append(Segment(clip.text, frames, frames + len(positions)))
        frames += len(positions)
    positions = np.concatenate(pieces)[: int(seconds * 20)]
    segments = [Segment(s.text, s.start, min(s.end, len(positions))) for s in segments if s.start < len(positions)]
    return Motion(positions.astype(np.float32), 20.0, segments)


def timed(write) -> tuple[float, float, Path]:
    """Wall and CPU seconds (this process and its children) of write(), and the path it wrote."""
    before, start = os.times(), time.perf_counter()
    path = write()
    wall, after = time.perf_counter() - start, os.times()
    cpu = sum(after[:4]) - sum(before[:4])  # user and system, own and children's
    return wall, cpu, path


@click.command()
@click.option("--seconds", default=60.0, show_default=True)
@click.option("--workers", default="1,2", show_default=True, help="Counts of drawing processes to compare, comma-separated.")
@click.option("--repeat", default=1, show_default=True, help="Runs of each output; the fastest is shown.")
@click.option("--no-write", is_flag=True, help="Do not update docs/benchmarks.md.")
def main(seconds: float, workers: str, repeat: int, no_write: bool) -> None:
    """Time each render output for a SECONDS-long motion."""
    motion = corpus_motion(seconds)
    counts = sorted({int(count) for count in workers.split(",")})
    load = os.getloadavg()[0]
    outputs = [(f"{suffix[1:]} 480×480", suffix, count) for suffix in (".mp4", ".gif") for count in counts]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, suffix, count in [*outputs, ("filmstrip png, 8 keyframes", ".png", 1)]:
            def write(suffix=suffix, count=count) -> Path:
                if suffix == ".png":
                    return render_filmstrip(motion, Path(tmp) / "m.png")
                with mock.patch.object(video, "worker_count", lambda num_frames: count):
                    return render_video(motion, Path(tmp) / f"m{suffix}", progress=False)
            wall, cpu, path = min(timed(write) for _ in range(repeat))
            drawn = 8 if suffix == ".png" else motion.num_frames
            processes = "" if suffix == ".png" else f"{count} worker processes" if count > 1 else "this process"
            rows.append([name, processes, drawn, f"{wall:.1f}", f"{drawn / wall:.0f}", f"{cpu:.1f}", f"{path.stat().st_size / 1e6:.1f}"])
    default = "in its own process" if video.worker_count(motion.num_frames) == 1 else f"in {video.worker_count(motion.num_frames)} workers"
    table = markdown_table(["output", "drawn by", "frames drawn", "wall s", "frames / s", "CPU s", "file MB"], rows)
    body = (f"## Rendering speed (`tools/bench_render.py`)\n\nA {seconds:g} s motion ({motion.num_frames} frames at 20 fps) "
            f"on this machine's CPU ({os.cpu_count()} cores, load average {load:.1f} when it started: other jobs share them), "
            f"best of {repeat} run(s). CPU s adds up this process, the drawing workers and ffmpeg. render_video draws in its own "
            f"process (x264 on one thread) on up to two cores, in worker processes on more: here, {default}.\n\n{table}\n")
    click.echo(body)
    if not no_write:
        write_section("bench_render", body)


if __name__ == "__main__":
    main()
