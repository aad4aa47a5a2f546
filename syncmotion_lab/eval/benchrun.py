"""Generated motion for the long-motion benchmark scripts: every script sampled with one backend and strategy."""

from __future__ import annotations

import time
from typing import Any

from tqdm import tqdm

from syncmotion.pipelines.long_motion import LongMotionSettings, generate_motion
from syncmotion_lab.eval.scoring import LongMotion


def generated_motions(scripts: list, backend: Any, strategy: str, inv_lambda: float, seeds: int,
                      options: dict[str, Any], bar: tqdm) -> tuple[list[list[LongMotion]], float, int, int, float]:
    """Every script generated as `seeds` samples in one batch: motions per sample, then per sample alone the wall
    seconds (the batch's time shared out), model calls, window evaluations and seconds of motion."""
    per_sample: list[list[LongMotion]] = [[] for _ in range(seeds)]
    wall, calls, evaluations, seconds = 0.0, 0, 0, 0.0
    for _, script, segments in scripts:
        start = time.perf_counter()
        settings = LongMotionSettings.named(strategy, {"inv_lambda": inv_lambda}, seed=script.seed or 0, num_samples=seeds,
                                            **options)
        motions = generate_motion(script, backend, settings, progress=False)
        wall += (time.perf_counter() - start) / seeds
        meta = motions[0].meta
        # One batched call serves every sample, so one sample alone would make the same calls.
        calls += int(meta["model_calls"])
        evaluations += int(meta["window_evaluations"])
        seconds += motions[0].seconds
        for sample, motion in enumerate(motions):
            # A seam is where one window hands over to the next: the middle of their overlap.
            seams = [start + int(meta["overlap"]) // 2 for start in motion.seams]
            per_sample[sample].append(LongMotion(motion.positions, [(s.start, s.end) for s in motion.segments],
                                                 [s["action"] for s in segments], seams))
        bar.update(1)
    return per_sample, wall, calls, evaluations, seconds
