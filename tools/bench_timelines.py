"""Timeline benchmark: held-out two-track timelines (a locomotion on the legs, an arm action on top) with every
strategy, scored against real combined motions of the same tracks; and looped walks' jerk across the wrap.

Timeline i is the tracks of combined corpus clip i of draw --seed (syncmotion_lab/corpus/combined.py), written as
`LEGS TEXT | 0f-Tf | legs` and `ARM TEXT | Af-Bf | right arm`; the real clip is its reference. Per strategy: how
often the legs evaluator recognises the legs action on the whole motion and the arms evaluator the arm action on the
arm track's frames (tools/train_part_evaluators.py), foot skating against the real clips', FID of the composites
against the real clips in the motion evaluator's features, and Peak Jerk over the 20 frames around each frame where
the arm track starts or ends (FlowMDM's 60-frame window does not fit these 4-9 s motions). Loops: the first --loops
legs actions alone as `@loop` timelines, played twice (syncmotion.motion.loops.replay): the jerk of the three frame
steps that span the wrap, against the real clips' mean jerk, and the same timelines without @loop.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import click
import numpy as np
import torch
from tqdm import tqdm

from syncmotion.backends.embedded import load_default
from syncmotion.motion.loops import replay
from syncmotion.motion.script import parse_script
from syncmotion.devices import PRECISIONS
from syncmotion.pipelines.long_motion import (
    MOTION_SCHEDULERS, LongMotionSettings, generate_motion, resolve_sampling,
)
from syncmotion.resources import resource_dir
from syncmotion_lab.benchdoc import markdown_table, write_section
from syncmotion_lab.corpus.combined import CombinedClip, draw_combined
from syncmotion_lab.eval.evaluator import load_evaluator
from syncmotion_lab.eval.metrics import foot_skating_ratio, frechet_distance, jerk_curve, mean_jerk, mean_transition_jerk, \
    peak_jerk, transition_windows

BENCH_SEED = 9000
JERK_WINDOW = 20
STRATEGIES = ("syncsde", "multidiffusion", "synctweedies", "independent")
_BACKEND: Any = None
_SAMPLING: dict[str, Any] = {}  # LongMotionSettings fields every run takes (--scheduler, --steps, --foot-lock)


def timeline_text(clip: CombinedClip) -> str:
    """The two tracks of a combined clip as a timeline."""
    return (f"{clip.legs_text} | 0f-{len(clip.positions)}f | legs\n"
            f"{clip.arm_text} | {clip.arm_start}f-{clip.arm_end}f | {', '.join(clip.arm_parts)}\n")


def _generate(job: tuple[str, str, Path | None]) -> tuple[np.ndarray, float]:
    strategy, text, cache = job
    key = hashlib.sha256((strategy + "\n" + text + "\n" + repr(sorted(_SAMPLING.items())) + _BACKEND.precision).encode()).hexdigest()[:20]
    stored = cache / f"{key}.npz" if cache else None
    if stored is not None and stored.exists():
        with np.load(stored) as saved:
            return saved["positions"], float(saved["seconds"])
    started = time.perf_counter()
    motion = generate_motion(parse_script(text), _BACKEND, LongMotionSettings.named(strategy, seed=0, **_SAMPLING),
                             progress=False)[0]
    seconds = time.perf_counter() - started
    if stored is not None:
        np.savez(stored, positions=motion.positions, seconds=seconds)
    return motion.positions, seconds


def _run(jobs: list[tuple[str, str, Path | None]], workers: int, desc: str) -> list[tuple[np.ndarray, float]]:
    if workers <= 1:
        return [_generate(job) for job in tqdm(jobs, desc=desc)]
    with multiprocessing.get_context("fork").Pool(workers, initializer=torch.set_num_threads, initargs=(1,)) as pool:
        return list(tqdm(pool.imap(_generate, jobs, chunksize=1), total=len(jobs), desc=desc))


def _boundaries(clip: CombinedClip) -> list[int]:
    return [f for f in (clip.arm_start, clip.arm_end) if 0 < f < len(clip.positions)]


def _score(motions: list[np.ndarray], clips: list[CombinedClip], evaluators: dict[str, Any]) -> dict[str, float]:
    legs_eval, arms_eval, whole_eval = evaluators["legs"], evaluators["arms"], evaluators["whole"]
    _, legs_logits = legs_eval.encode(motions)
    _, arm_logits = arms_eval.encode([m[c.arm_start:c.arm_end] for m, c in zip(motions, clips)])
    legs_ok = legs_logits.argmax(-1) == np.array([legs_eval.action_index(c.legs) for c in clips])
    arm_ok = arm_logits.argmax(-1) == np.array([arms_eval.action_index(c.arm) for c in clips])
    features, _ = whole_eval.encode(motions)
    real_features, _ = whole_eval.encode([c.positions for c in clips])
    windows = [w for m, c in zip(motions, clips) for w in transition_windows(m, _boundaries(c), JERK_WINDOW)]
    return {"legs_top1": float(legs_ok.mean()), "arm_top1": float(arm_ok.mean()), "both_top1": float((legs_ok & arm_ok).mean()),
            "foot_skate": float(np.mean([foot_skating_ratio(m) for m in motions])),
            "fid": frechet_distance(features, real_features),
            "peak_jerk": peak_jerk(mean_transition_jerk(windows)) if windows else float("nan")}


def _speeds(positions: np.ndarray, radius: int = 5) -> tuple[float, float]:
    """Root speed (m/s) over the `radius` frames on each side of the wrap, the loop played twice, and over the loop."""
    length = len(positions)
    speed = np.linalg.norm(np.diff(replay(positions, 2)[:, 0, [0, 2]], axis=0), axis=-1) * 20.0
    return float(speed[length - radius:length + radius].mean()), float(speed[:length - 1].mean())


def _wrap_jerk(positions: np.ndarray) -> float:
    """Mean jerk of the three frame steps whose third difference spans the wrap, the loop played twice."""
    length = len(positions)
    return float(jerk_curve(replay(positions, 2))[length - 3:length].mean())


@click.command()
@click.option("--num", type=click.IntRange(min=1), default=30, show_default=True, help="Held-out timelines.")
@click.option("--strategies", default=",".join(STRATEGIES), show_default=True,
              help="The first is the default's row on all --num timelines; the others run on the first --baseline-num.")
@click.option("--baseline-num", type=click.IntRange(min=1), default=None, help="Timelines for the other strategies (default: --num).")
@click.option("--loops", type=click.IntRange(min=0), default=6, show_default=True, help="Looped timelines.")
@click.option("--seed", type=int, default=BENCH_SEED, show_default=True, help="Combined-corpus draw of the timelines.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--cache", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder keeping every generated motion, so a rerun only scores (created if missing).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--write/--no-write", default=True, show_default=True, help="Write the section of docs/benchmarks.md.")
@click.option("--scheduler", type=click.Choice(MOTION_SCHEDULERS), default=None, help="Solver (default: the one timelines sample with).")
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Sampling steps (default: the model's for the solver).")
@click.option("--precision", type=click.Choice(PRECISIONS), default="auto", show_default=True)
@click.option("--foot-lock/--no-foot-lock", default=True, show_default=True)
def main(num: int, strategies: str, baseline_num: int | None, loops: int, seed: int, workers: int, cache: Path | None,
         json_path: Path | None, write: bool, scheduler: str | None, steps: int | None, precision: str, foot_lock: bool) -> None:
    """Score every strategy on --num held-out timelines and --loops looped ones with the embedded model."""
    global _BACKEND
    _SAMPLING.update(scheduler=scheduler, steps=steps, foot_lock=foot_lock)
    names = [s.strip() for s in strategies.split(",") if s.strip()]
    models = resource_dir("models")
    evaluators = {"legs": load_evaluator(models / "legs_evaluator.safetensors"),
                  "arms": load_evaluator(models / "arms_evaluator.safetensors"), "whole": load_evaluator()}
    _BACKEND = load_default(precision=precision)
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
    clips = [draw_combined(seed, i) for i in range(num)]
    real = {"legs_top1": float(np.mean(evaluators["legs"].encode([c.positions for c in clips])[1].argmax(-1)
                                       == [evaluators["legs"].action_index(c.legs) for c in clips])),
            "arm_top1": float(np.mean(evaluators["arms"].encode([c.positions[c.arm_start:c.arm_end] for c in clips])[1].argmax(-1)
                                      == [evaluators["arms"].action_index(c.arm) for c in clips])),
            "foot_skate": float(np.mean([foot_skating_ratio(c.positions) for c in clips])),
            "mean_jerk": mean_jerk([c.positions for c in clips])}
    real_windows = [w for c in clips for w in transition_windows(c.positions, _boundaries(c), JERK_WINDOW)]
    real["peak_jerk"] = peak_jerk(mean_transition_jerk(real_windows)) if real_windows else float("nan")
    solver, solver_steps = resolve_sampling(LongMotionSettings(scheduler=scheduler, steps=steps), _BACKEND,
                                            parse_script(timeline_text(clips[0])))
    sampling = (f"{solver} {solver_steps} steps, network in {_BACKEND.precision}, "
                f"feet {'locked' if foot_lock else 'not locked'}")
    results: dict[str, Any] = {"real": real, "strategies": {}, "timelines": num, "seed": seed, "sampling": sampling,
                               "command": "python tools/bench_timelines.py " + shlex.join(sys.argv[1:])}
    for rank, name in enumerate(names):
        subset = clips if rank == 0 else clips[:baseline_num or num]
        generated = _run([(name, timeline_text(c), cache) for c in subset], workers, name)
        rows = {name: len(subset)}
        if rank == 0 and len(names) > 1 and (baseline_num or num) < num:
            # The default again on the baselines' timelines alone: FID and rates compare on equal sets.
            rows[f"{name}, first {baseline_num}"] = baseline_num or num
        for row, count in rows.items():
            scores = _score([g[0] for g in generated[:count]], subset[:count], evaluators)
            scores["seconds_per_timeline"] = float(np.mean([g[1] for g in generated[:count]]))
            scores["timelines"] = count
            results["strategies"][row] = scores
            click.echo(f"{row}: {scores}")
    loop_rows = {}
    for looped in (True, False):
        texts = [("@loop\n" if looped else "") + f"{c.legs_text} | 0f-{len(c.positions)}f\n" for c in clips[:loops]]
        generated = _run([("syncsde", t, cache) for t in texts], workers, "loops" if looped else "not looped")
        if generated:
            loop_rows["loop" if looped else "no loop"] = {
                "wrap_jerk": float(np.mean([_wrap_jerk(g[0]) for g in generated])),
                "interior_jerk": mean_jerk([g[0] for g in generated]),
                "wrap_speed": float(np.mean([_speeds(g[0])[0] for g in generated])),
                "mean_speed": float(np.mean([_speeds(g[0])[1] for g in generated]))}
    real["loop_speed"] = float(np.mean([_speeds(c.positions)[1] for c in clips[:loops]])) if loops else float("nan")
    results["loops"] = loop_rows
    click.echo(f"loops: {loop_rows}; real mean jerk {real['mean_jerk']:.4f}")
    if json_path is not None:
        json_path.write_text(json.dumps(results, indent=1) + "\n")
    if write:
        write_section("timelines", _section(results, loops))


def _section(results: dict[str, Any], loops: int) -> str:
    real = results["real"]
    rows = [[name, s["timelines"], f"{s['legs_top1']:.2f}", f"{s['arm_top1']:.2f}", f"{s['both_top1']:.2f}", f"{s['foot_skate']:.3f}",
             f"{s['foot_skate'] / real['foot_skate']:.2f}", f"{s['fid']:.1f}", f"{s['peak_jerk']:.3f}",
             f"{s['seconds_per_timeline']:.1f}"] for name, s in results["strategies"].items()]
    rows.append(["real combined motions", results["timelines"],
                 f"{real['legs_top1']:.2f}", f"{real['arm_top1']:.2f}", "", f"{real['foot_skate']:.3f}",
                 "1.00", "0", f"{real['peak_jerk']:.3f}", ""])
    table = markdown_table(["strategy", "timelines", "legs top-1", "arm top-1", "both", "foot skate", "× real", "FID", "Peak Jerk",
                            "s / timeline"], rows)
    loop_table = markdown_table(["", "jerk across the wrap", "× real mean jerk", "mean jerk inside", "root speed at the wrap",
                                 "mean root speed"], [
        [name, f"{row['wrap_jerk']:.4f}", f"{row['wrap_jerk'] / real['mean_jerk']:.2f}", f"{row['interior_jerk']:.4f}",
         f"{row['wrap_speed']:.2f} m/s", f"{row['mean_speed']:.2f} m/s"] for name, row in results["loops"].items()])
    return f"""## Timelines: body-part tracks and loops (`tools/bench_timelines.py`)

{results['timelines']} held-out timelines (combined corpus draw {results['seed']}: a locomotion on the legs, an arm action
on one or both arms inside it), the embedded model ({results['sampling']}; overlap 10, seed 0), one sample each:
`{results['command'].strip()}`.
Top-1: the legs evaluator on the whole motion, the arms evaluator on the arm track's frames (chance 0.25 and 0.33).
Foot skate and Peak Jerk (over the {JERK_WINDOW} frames around each arm-track start and end) beside the real combined
motions; FID in the motion evaluator's features against those real motions (few samples: read it as a ranking).

{table}

Loops: the first {loops} legs tracks alone, as `@loop` timelines and without it, played twice; jerk of the frame steps
spanning the wrap against the real combined motions' mean jerk ({real['mean_jerk']:.4f}); root speed within 5 frames of
the wrap and over the whole loop (the real clips of those tracks: {real['loop_speed']:.2f} m/s on average).

{loop_table}
"""


if __name__ == "__main__":
    main()
