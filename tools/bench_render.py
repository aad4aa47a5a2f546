"""Render speed: a 60 s motion (1200 frames) to mp4 and gif, and a filmstrip, on this machine.

    python tools/bench_render.py [--seconds 60] [--no-write]
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import click
import numpy as np

from syncmotion.motion.features import canonicalize
from syncmotion.motion.types import Motion, Segment
from syncmotion.render import render_filmstrip, render_video
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


@click.command()
@click.option("--seconds", default=60.0, show_default=True)
@click.option("--no-write", is_flag=True, help="Do not update docs/benchmarks.md.")
def main(seconds: float, no_write: bool) -> None:
    """Time each render output for a SECONDS-long motion."""
    motion = corpus_motion(seconds)
    load = os.getloadavg()[0]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, write in [("mp4 480×480", lambda: render_video(motion, Path(tmp) / "m.mp4", progress=False)),
                            ("gif 480×480", lambda: render_video(motion, Path(tmp) / "m.gif", progress=False)),
                            ("filmstrip png, 8 keyframes", lambda: render_filmstrip(motion, Path(tmp) / "m.png"))]:
            start = time.perf_counter()
            path = write()
            elapsed = time.perf_counter() - start
            drawn = 8 if path.suffix == ".png" else motion.num_frames
            rows.append([name, drawn, f"{elapsed:.1f}", f"{drawn / elapsed:.0f}", f"{path.stat().st_size / 1e6:.1f}"])
    table = markdown_table(["output", "frames drawn", "wall s", "frames / s", "file MB"], rows)
    body = (f"## Rendering speed (`tools/bench_render.py`)\n\nA {seconds:g} s motion ({motion.num_frames} frames at 20 fps) "
            f"on this machine's CPU ({os.cpu_count()} cores, load average {load:.1f} when it started: other jobs share them), "
            f"one process.\n\n{table}\n")
    click.echo(body)
    if not no_write:
        write_section("bench_render", body)


if __name__ == "__main__":
    main()
