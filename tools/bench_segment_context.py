"""Segment accuracy in long scripts against the same segments generated alone, by segment length and position.

Every benchmark segment is generated twice with the same text, length, seed and settings: inside its script (windows
synchronized with their neighbours, as `syncmotion motion` does) and alone, as a one-segment script. The evaluator's
top-1 action of each is compared with the action its text came from. The difference between the two columns is what
the long-script context (transitions, the pull toward neighbouring windows) costs; the rows show what segment
length costs when the model's window is fixed.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import numpy as np
import torch
from tqdm import tqdm

from syncmotion.engine import SyncSDE
from syncmotion.pipelines.long_motion import DEFAULT_OVERLAP, LongMotionSettings, generate_motion
from syncmotion.motion.script import Script, Segment
from syncmotion_lab.benchdoc import markdown_table, write_section
from syncmotion_lab.eval import metrics
from syncmotion_lab.eval.benchrun import generated_motions
from syncmotion_lab.eval.benchset import bench_folder, load_scripts
from syncmotion_lab.eval.evaluator import Evaluator, load_evaluator

# Segment lengths in frames; the embedded model's window is 80 frames.
LENGTH_BINS = ((0, 70), (70, 100), (100, 140), (140, None))
# SyncSDE's pull strength, as `syncmotion motion` uses it by default.
INV_LAMBDA = 5.0


def _position(index: int, count: int) -> str:
    return "first" if index == 0 else ("last" if index == count - 1 else "middle")


def _records(evaluator: Evaluator, clips: list[np.ndarray], asked: list[dict[str, Any]], positions: list[str],
             context: str) -> list[dict[str, Any]]:
    _, logits = evaluator.encode(clips)
    return [{"context": context, "frames": segment["frames"], "position": position,
             "correct": evaluator.actions[int(made)] == segment["action"]}
            for segment, position, made in zip(asked, positions, logits.argmax(1))]


def segment_records(scripts: list, backend: Any, evaluator: Evaluator, seeds: int, options: dict[str, Any],
                    progress: bool = True) -> list[dict[str, Any]]:
    """One record per segment, sample and context ('script' or 'alone'): its frames, position and whether the
    evaluator's top-1 action is the one asked."""
    records: list[dict[str, Any]] = []
    bar = tqdm(total=2 * len(scripts), desc="generate", unit="script", disable=not progress)
    samples, *_ = generated_motions(scripts, backend, "syncsde", INV_LAMBDA, seeds, options, bar)
    for motions in samples:
        for (_, _, segments), motion in zip(scripts, motions):
            positions = [_position(index, len(segments)) for index in range(len(segments))]
            records += _records(evaluator, metrics.cut_segments(motion.positions, motion.ranges), segments, positions, "script")
    for _, script, segments in scripts:
        for index, (segment, asked) in enumerate(zip(script.segments, segments)):
            alone = Script(segments=[Segment(segment.text, 0, segment.end - segment.start)], fps=script.fps,
                           seed=script.seed, source=script.source)
            settings = LongMotionSettings(strategy=SyncSDE(INV_LAMBDA), seed=script.seed or 0, num_samples=seeds, **options)
            motions = generate_motion(alone, backend, settings, progress=False)
            records += _records(evaluator, [motion.positions for motion in motions], [asked] * seeds,
                                [_position(index, len(segments))] * seeds, "alone")
        bar.update(1)
    bar.close()
    return records


def _cell(records: list[dict[str, Any]]) -> str:
    return f"{np.mean([r['correct'] for r in records]):.3f} ({len(records)})" if records else "—"


def summary_table(records: list[dict[str, Any]]) -> str:
    """Markdown table: top-1 (and segment count) alone and in scripts, overall, per length bin and per position."""
    def rows_for(label: str, keep: Any) -> list[str]:
        chosen = [r for r in records if keep(r)]
        return [label, _cell([r for r in chosen if r["context"] == "alone"]), _cell([r for r in chosen if r["context"] == "script"])]

    rows = [rows_for("all segments", lambda r: True)]
    for low, high in LENGTH_BINS:
        label = f"{low}-{high - 1} frames" if high is not None else f"{low}+ frames"
        rows.append(rows_for(label, lambda r, low=low, high=high: low <= r["frames"] and (high is None or r["frames"] < high)))
    for position in ("first", "middle", "last"):
        rows.append(rows_for(f"{position} segment of its script", lambda r, position=position: r["position"] == position))
    return markdown_table(["segments", "top-1 alone (count)", "top-1 in their scripts (count)"], rows)


@click.command()
@click.option("--scripts", "num_scripts", type=click.IntRange(min=1), default=None, help="Use the first N scripts (default: all).")
@click.option("--seeds", type=click.IntRange(min=1), default=3, show_default=True, help="Samples per segment and context.")
@click.option("--model", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Embedded model file (default: the shipped one).")
@click.option("--smooth", type=click.IntRange(min=0), default=5, show_default=True,
              help="Savitzky-Golay filter length, as `syncmotion motion` writes motion.")
@click.option("--doc/--no-doc", default=True, show_default=True, help="Write the docs/benchmarks.md section.")
def main(num_scripts: int | None, seeds: int, model: Path | None, smooth: int, doc: bool) -> None:
    """Print (and record) segment top-1 alone and in scripts, SyncSDE with the CLI's defaults."""
    from syncmotion.backends.embedded import load_default, load_embedded

    scripts = load_scripts(bench_folder(), num_scripts)
    backend = load_embedded(model) if model is not None else load_default()
    options = {"overlap": DEFAULT_OVERLAP, "smooth": smooth}
    text = summary_table(segment_records(scripts, backend, load_evaluator(), seeds, options))
    click.echo(text)
    if doc:
        write_section("bench_segment_context", "\n".join([
            "## Segments alone and in their scripts",
            "",
            f"`{' '.join(['python tools/bench_segment_context.py', *sys.argv[1:]])}` (CPU, {torch.get_num_threads()} "
            f"threads; {len(scripts)} benchmark scripts x {seeds} samples; SyncSDE 1/λ = {INV_LAMBDA:g}, overlap {DEFAULT_OVERLAP}, "
            f"smoothing {smooth}, the model's default guidance). Each segment is generated inside its script and alone "
            "(a one-segment script with the same text, length and seed); top-1: the evaluator's action is the one its "
            "held-out text came from. The embedded model's window is 80 frames.",
            "",
            text,
        ]))


if __name__ == "__main__":
    main()
