"""Long-motion metrics: action accuracy, FID and diversity in evaluator features, foot skating (overall, near window
seams and away from them), steadiness of locomotion, jerk at transitions.

Jerk follows FlowMDM (Barquero et al., CVPR 2024; utils/metrics.py and data_loaders/humanml/utils/metrics.py of
BarqueroGerman/FlowMDM): the per-frame jerk is the largest, over the 22 joints, L1 norm (over x, y, z) of the third
finite difference of joint positions, in metres per frame³ at 20 fps as FlowMDM reports it (×8000 for m/s³).
Around every transition a window of `TRANSITION_FRAMES` = 60 frames (30 before the boundary, 30 after; FlowMDM's
default --transition_length) gives a jerk curve of 57 values; the curves are averaged over all transitions. Peak Jerk is the
largest value of that mean curve; Area Under Jerk is the sum over it of |mean curve − reference|, where the reference
is the mean per-frame jerk of real motion (FlowMDM uses 0.033 for HumanML3D's ground truth; we use the corpus's).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import linalg

from syncmotion.motion.skeleton import LEFT_FOOT_JOINTS, RIGHT_FOOT_JOINTS

TRANSITION_FRAMES = 60
# Foot skating: a foot joint below this height (m) at two consecutive frames moving faster than this
# horizontally (m/s) skates; 0.5 m/s is 2.5 cm per frame at 20 fps (the 5 cm / 2.5 cm rule used by GMD).
SKATE_HEIGHT = 0.05
SKATE_SPEED = 0.5
FOOT_JOINTS = (*LEFT_FOOT_JOINTS, *RIGHT_FOOT_JOINTS)
# Foot skating "near a seam" counts frame steps within this many frames of a window seam.
SEAM_RADIUS = 5
# Steadiness: root speed averaged over stretches of this many seconds, this many seconds at each segment end left out.
STRETCH_SECONDS = 2.0
STEADY_MARGIN = 2.0
# Actions whose root should keep moving at a pace: where steadiness is measured.
LOCOMOTION = ("walk", "run", "walk_backward", "walk_turn")
# Skating at a matched pace: real feet slide more the faster the body moves (toe-off, landing), so a motion that
# walks more skates more in total; counted within these root-speed bands (m/s), motions compare at the same pace.
PACE_BANDS = {"skate_walking": (0.6, 1.6), "skate_running": (1.6, float("inf"))}
# Root speed for the bands: averaged over this many seconds, so a stride's sway does not move a step between bands.
SPEED_SMOOTHING_SECONDS = 0.5


def top_k_accuracy(logits: np.ndarray, labels: Sequence[int], k: int = 1) -> float:
    """Fraction of rows of logits [N, C] whose label is among the k largest entries."""
    logits, labels = np.asarray(logits), np.asarray(labels)
    if logits.ndim != 2 or len(labels) != len(logits) or len(labels) == 0:
        raise ValueError(f"need logits [N, C] and N labels (N > 0), got {logits.shape} and {labels.shape}")
    top = np.argsort(-logits, axis=1, kind="stable")[:, :k]
    return float((top == labels[:, None]).any(axis=1).mean())


def cut_segments(positions: np.ndarray, ranges: Sequence[tuple[int, int]]) -> list[np.ndarray]:
    """The frames [start, end) of each range from positions [T, 22, 3]."""
    for start, end in ranges:
        if not 0 <= start < end <= len(positions):
            raise ValueError(f"segment [{start}, {end}) is outside the motion's {len(positions)} frames")
    return [positions[start:end] for start, end in ranges]


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """FID between two feature sets [N, D]: |mu_a - mu_b|² + Tr(C_a + C_b - 2 (C_a C_b)^½)."""
    if len(features_a) < 2 or len(features_b) < 2:
        raise ValueError("FID needs at least two feature vectors on each side")
    mu_a, mu_b = features_a.mean(0), features_b.mean(0)
    cov_a, cov_b = np.atleast_2d(np.cov(features_a, rowvar=False)), np.atleast_2d(np.cov(features_b, rowvar=False))
    root = linalg.sqrtm(cov_a @ cov_b)
    if not np.isfinite(root).all():
        # A near-singular product (few samples): regularize both covariances slightly.
        offset = np.eye(len(cov_a)) * 1e-6
        root = linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    root = np.real(root)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(root))


def diversity(features: np.ndarray, pairs: int | None = 300, rng: np.random.Generator | None = None) -> float:
    """Mean Euclidean distance between `pairs` random pairs of distinct rows (all pairs when `pairs` is None)."""
    count = len(features)
    if count < 2:
        raise ValueError("diversity needs at least two feature vectors")
    if pairs is None:
        first, second = np.triu_indices(count, k=1)
    else:
        rng = rng if rng is not None else np.random.default_rng(0)
        first = rng.integers(0, count, pairs)
        second = (first + rng.integers(1, count, pairs)) % count
    return float(np.linalg.norm(features[first] - features[second], axis=1).mean())


def foot_skating_ratio(positions: np.ndarray, fps: float = 20.0, height: float = SKATE_HEIGHT,
                       speed: float = SKATE_SPEED) -> float:
    """Fraction of frame steps in which some foot joint stays below `height` m yet slides faster than `speed` m/s."""
    if len(positions) < 2:
        raise ValueError("foot skating needs at least two frames")
    return float(skating_steps(positions, fps, height, speed).mean())


def jerk_curve(positions: np.ndarray) -> np.ndarray:
    """FlowMDM's per-frame jerk [T-3]: max over joints of the L1 norm of the third difference of positions [T, J, 3]."""
    if len(positions) < 4:
        raise ValueError("jerk needs at least four frames")
    third = np.diff(positions, n=3, axis=0)
    return np.abs(third).sum(-1).max(-1)


def transition_windows(positions: np.ndarray, boundaries: Sequence[int],
                       length: int = TRANSITION_FRAMES) -> list[np.ndarray]:
    """The `length` frames centred on each boundary frame (length//2 before it); boundaries too near an end are skipped."""
    before = length // 2
    return [positions[b - before:b - before + length] for b in boundaries if b - before >= 0 and b - before + length <= len(positions)]


def mean_transition_jerk(windows: Sequence[np.ndarray]) -> np.ndarray:
    """The jerk curve averaged over equal-length transition windows [L, J, 3]."""
    if not windows:
        raise ValueError("no transition windows to measure (motions too short for the transition length?)")
    return np.mean([jerk_curve(w) for w in windows], axis=0)


def peak_jerk(mean_curve: np.ndarray) -> float:
    """FlowMDM's Peak Jerk: the largest value of the mean transition jerk curve."""
    return float(np.max(mean_curve))


def area_under_jerk(mean_curve: np.ndarray, reference: float) -> float:
    """FlowMDM's Area Under Jerk: sum over the mean transition curve of its distance to the real-motion jerk."""
    return float(np.abs(np.asarray(mean_curve) - reference).sum())


def mean_jerk(motions: Sequence[np.ndarray]) -> float:
    """Mean per-frame jerk over all frames of real motions: the reference of Area Under Jerk."""
    return float(np.concatenate([jerk_curve(m) for m in motions]).mean())


def skating_steps(positions: np.ndarray, fps: float = 20.0, height: float = SKATE_HEIGHT,
                  speed: float = SKATE_SPEED) -> np.ndarray:
    """Per frame step [T-1]: whether some foot joint stays below `height` m yet slides faster than `speed` m/s."""
    feet = positions[:, FOOT_JOINTS, :]
    low = (feet[1:, :, 1] < height) & (feet[:-1, :, 1] < height)
    slide = np.linalg.norm(feet[1:, :, [0, 2]] - feet[:-1, :, [0, 2]], axis=-1) * fps
    return (low & (slide > speed)).any(axis=1)


def _root_step_speeds(positions: np.ndarray, fps: float) -> np.ndarray:
    """Per frame step [T-1]: the root's horizontal speed (m/s) between the two frames."""
    return np.linalg.norm(np.diff(positions[:, 0][:, [0, 2]], axis=0), axis=-1) * fps


def root_speeds(positions: np.ndarray, fps: float = 20.0, smoothing: float = SPEED_SMOOTHING_SECONDS) -> np.ndarray:
    """Per frame step [T-1]: the root's horizontal speed (m/s), averaged over `smoothing` seconds around the step."""
    speed = _root_step_speeds(positions, fps)
    kernel = np.ones(max(1, int(round(smoothing * fps))))
    # Divided by the kernel's overlap with the motion, so the first and last steps are not averaged with zeros.
    return np.convolve(speed, kernel, "same") / np.convolve(np.ones_like(speed), kernel, "same")


def near_frames(steps: int, centres: Sequence[int], radius: int = SEAM_RADIUS) -> np.ndarray:
    """Per frame step [steps]: whether the step lies within `radius` frames of one of the `centres`."""
    near = np.zeros(steps, dtype=bool)
    for centre in centres:
        near[max(0, centre - radius):max(0, centre + radius)] = True
    return near


def stretch_speeds(positions: np.ndarray, start: int, end: int, fps: float = 20.0,
                   stretch: float = STRETCH_SECONDS, margin: float = STEADY_MARGIN) -> np.ndarray:
    """Mean horizontal root speed (m/s) over each whole `stretch`-second stretch of frames [start, end), `margin`
    seconds left out at both ends (starting, stopping and changing action are not unsteadiness)."""
    first, last = start + int(margin * fps), end - int(margin * fps)
    size = int(stretch * fps)
    count = max(0, (last - first) // size)
    if count == 0:
        return np.zeros(0)
    return _root_step_speeds(positions[first:first + count * size + 1], fps).reshape(count, size).mean(1)


def steadiness(speeds: np.ndarray) -> tuple[float, float]:
    """Of stretch speeds: the coefficient of variation (std / mean) and the slowest stretch over the median one."""
    if len(speeds) < 2:
        raise ValueError("steadiness needs at least two stretches")
    return float(speeds.std() / max(speeds.mean(), 1e-9)), float(speeds.min() / max(np.median(speeds), 1e-9))
