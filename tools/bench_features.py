"""Speed of the HumanML3D feature conversion and the export IK on long motions, and their round-trip error.

Corpus clips are chained into one long motion (each clip moved to where the previous one ended) and converted
both ways; the median of a few runs is reported.

    python tools/bench_features.py [--frames 12000] [--no-write]
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import click
import numpy as np
import torch

from syncmotion.motion.features import canonicalize, features_to_joints, joints_to_features
from syncmotion.motion.ik import joint_rotations
from syncmotion.motion.skeleton import forward_kinematics
from syncmotion_lab.benchdoc import markdown_table, write_section
from syncmotion_lab.corpus import sample_clip


def corpus_clips(frames: int, seed: int = 0) -> list[np.ndarray]:
    """Corpus clips adding up to at least `frames` frames."""
    rng = np.random.default_rng(seed)
    clips: list[np.ndarray] = []
    while sum(len(clip) for clip in clips) < frames:
        clips.append(sample_clip(rng).positions)
    return clips


def chained(clips: list[np.ndarray], frames: int) -> np.ndarray:
    """The clips end to end, each shifted in x/z to start where the last one stopped, cut to `frames` and canonicalized."""
    pieces, end = [], np.zeros(3, dtype=np.float32)
    for clip in clips:
        shift = end - clip[0, 0]
        shift[1] = 0
        pieces.append(clip + shift)
        end = pieces[-1][-1, 0]
    return canonicalize(np.concatenate(pieces)[:frames])


def median_seconds(function: Callable[[], object], repeats: int) -> float:
    """Median wall time of `repeats` calls after one warm-up call."""
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@click.command()
@click.option("--frames", default=12000, show_default=True, help="Length of the long motion (20 fps).")
@click.option("--repeats", default=5, show_default=True)
@click.option("--no-write", is_flag=True, help="Print only; leave docs/benchmarks.md alone.")
def main(frames: int, repeats: int, no_write: bool) -> None:
    """Time joints->features, features->joints and joint_rotations (+ forward kinematics) on one long motion."""
    torch.set_num_threads(1)  # the CPU is shared; one thread per conversion is the fastest here
    clips = corpus_clips(frames)
    joints = torch.from_numpy(chained(clips, frames))
    features = joints_to_features(joints)
    recovered = features_to_joints(features)
    round_trip = float((recovered - joints[:-1]).abs().max())
    rotations, root, offsets = joint_rotations(joints)
    # Each clip has its own body, so the IK error is measured clip by clip (one skeleton per motion).
    fk_error = max(float((forward_kinematics(*map(torch.from_numpy, joint_rotations(clip))) - torch.from_numpy(clip)).abs().max())
                   for clip in clips)
    rows = [
        ["joints_to_features", f"{median_seconds(lambda: joints_to_features(joints), repeats) * 1e3:.1f}", f"{round_trip:.1e}"],
        ["features_to_joints", f"{median_seconds(lambda: features_to_joints(features), repeats) * 1e3:.1f}", f"{round_trip:.1e}"],
        ["ik.joint_rotations", f"{median_seconds(lambda: joint_rotations(joints), repeats) * 1e3:.1f}", f"{fk_error:.1e}"],
        ["skeleton.forward_kinematics", f"{median_seconds(lambda: forward_kinematics(rotations, root, offsets), repeats) * 1e3:.1f}",
         f"{fk_error:.1e}"],
    ]
    table = markdown_table(["conversion", f"ms for {frames} frames", "max round-trip error (m)"], rows)
    click.echo(table)
    if no_write:
        return
    write_section("bench_features", f"""## HumanML3D features and export IK (`tools/bench_features.py`)

One {frames}-frame motion ({frames / 20 / 60:.0f} min at 20 fps, {len(clips)} corpus clips chained and canonicalized),
torch on this shared 2-core CPU (a training job ran beside it), 1 torch thread (2 threads on the busy CPU were
several times slower), median of {repeats} runs after a warm-up. The features are computed in float64 inside and
returned as float32. Round-trip error: joints -> features -> joints (frames 0..T-2) over the whole motion for the
feature rows; joint_rotations -> forward_kinematics clip by clip (each clip has its own body) for the IK rows.

{table}
""")


if __name__ == "__main__":
    main()
