"""Score a set of long motions, each cut into segments of known actions, with the evaluator and the metrics."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from . import metrics
from .evaluator import Evaluator


@dataclass
class LongMotion:
    """Joint positions [T, 22, 3] with the frame ranges of its segments, the action each segment should show and the
    frames where its windows meet (the middle of each overlap)."""

    positions: np.ndarray
    ranges: list[tuple[int, int]]
    actions: list[str]
    seams: list[int] = field(default_factory=list)


# Segment accuracy by segment length in frames (20 fps): under 70, 70-139, 140 and more.
LENGTH_BINS = {"top1_short": (0, 70), "top1_mid": (70, 140), "top1_long": (140, 1 << 30)}


@dataclass
class Reference:
    """Real motion to compare with: evaluator features of real clips and their mean per-frame jerk."""

    features: np.ndarray
    jerk: float


def make_reference(evaluator: Evaluator, clips: list[np.ndarray]) -> Reference:
    """The reference statistics of real clips [T_i, 22, 3]."""
    features, _ = evaluator.encode(clips)
    return Reference(features=features, jerk=metrics.mean_jerk(clips))


def _mean_where(values: np.ndarray, where: np.ndarray) -> float:
    """The mean of `values` where `where` holds; NaN where it holds nowhere (nothing to measure)."""
    return float(values[where].mean()) if where.any() else float("nan")


def score_long_motions(evaluator: Evaluator, motions: list[LongMotion], reference: Reference,
                       fps: float = 20.0) -> tuple[dict[str, float], np.ndarray, list[tuple[str, str]]]:
    """Metrics of `motions` (accuracy overall and by segment length, FID, diversity, foot skating overall, near seams
    and away from them and within root-speed bands, mean root speed, steadiness of locomotion, Peak Jerk, AUJ), their
    mean transition jerk curve and every segment's (asked, made) action, made being the evaluator's top-1. A metric
    with nothing to measure (no transitions, no locomotion, no step in a speed band) is NaN."""
    segments, labels, windows, skating, near, speeds, steady = [], [], [], [], [], [], []
    for motion in motions:
        if len(motion.ranges) != len(motion.actions):
            raise ValueError(f"{len(motion.ranges)} segment ranges but {len(motion.actions)} actions; give one action per segment")
        segments += metrics.cut_segments(motion.positions, motion.ranges)
        labels += [evaluator.action_index(a) for a in motion.actions]
        windows += metrics.transition_windows(motion.positions, [start for start, _ in motion.ranges[1:]])
        steps = metrics.skating_steps(motion.positions, fps)
        skating.append(steps)
        near.append(metrics.near_frames(len(steps), motion.seams))
        speeds.append(metrics.root_speeds(motion.positions, fps))
        for (start, end), action in zip(motion.ranges, motion.actions):
            stretches = metrics.stretch_speeds(motion.positions, start, end, fps)
            if action in metrics.LOCOMOTION and len(stretches) >= 2:
                steady.append(metrics.steadiness(stretches))
    features, logits = evaluator.encode(segments)
    curve = metrics.mean_transition_jerk(windows) if windows else np.full(metrics.TRANSITION_FRAMES - 3, np.nan)
    all_steps, all_near, all_speeds = np.concatenate(skating), np.concatenate(near), np.concatenate(speeds)
    lengths = np.array([len(segment) for segment in segments])
    hits = logits.argmax(1) == np.asarray(labels)
    scores = {
        "top1": metrics.top_k_accuracy(logits, labels, 1),
        "top3": metrics.top_k_accuracy(logits, labels, 3),
        "fid": metrics.frechet_distance(features, reference.features),
        "diversity": metrics.diversity(features, rng=np.random.default_rng(0)),
        "foot_skate": float(np.mean([steps.mean() for steps in skating])),
        "peak_jerk": metrics.peak_jerk(curve),
        "auj": metrics.area_under_jerk(curve, reference.jerk),
        "skate_seam": _mean_where(all_steps, all_near),
        "skate_away": _mean_where(all_steps, ~all_near),
        "mean_speed": float(all_speeds.mean()),
        **{name: _mean_where(all_steps, (all_speeds >= low) & (all_speeds < high))
           for name, (low, high) in metrics.PACE_BANDS.items()},
        "steady_cv": float(np.mean([cv for cv, _ in steady])) if steady else float("nan"),
        "slowest": float(np.min([slowest for _, slowest in steady])) if steady else float("nan"),
        **{name: _mean_where(hits, (lengths >= low) & (lengths < high)) for name, (low, high) in LENGTH_BINS.items()},
    }
    predictions = [(evaluator.actions[label], evaluator.actions[int(made)]) for label, made in zip(labels, logits.argmax(1))]
    return scores, curve, predictions


def per_action(predictions: list[tuple[str, str]]) -> dict[str, dict[str, object]]:
    """Per asked action: top-1 accuracy, number of segments and how often each wrong action was made instead."""
    summary: dict[str, dict[str, object]] = {}
    for action in sorted({asked for asked, _ in predictions}):
        made = [answer for asked, answer in predictions if asked == action]
        wrong = Counter(answer for answer in made if answer != action)
        summary[action] = {"top1": float(np.mean([answer == action for answer in made])), "segments": len(made),
                           "made_instead": dict(wrong.most_common())}
    return summary
