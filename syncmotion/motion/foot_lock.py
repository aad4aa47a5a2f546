"""Foot locking: a foot that stands on the floor stays where it stands, the leg bent to reach it.

Generated motion often lets a planted foot slide (foot skating). Here each foot's contact spans are found (its toe
low and slow), the foot is held at one place through each span (blending in and out over a few frames), and the
knee is placed by two-bone inverse kinematics so that thigh and shin keep their lengths. A hip that moves further
than the leg reaches pulls the foot along: the leg is never stretched.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# (hip, knee, ankle, toe) of each leg.
LEGS: tuple[tuple[int, int, int, int], ...] = ((1, 4, 7, 10), (2, 5, 8, 11))
# A foot in contact: its lower joint below this height (m) and its middle slower than this (m/s). Looser than the
# skating measure's 5 cm / 0.5 m/s so that the frames it counts are among those locked. 8 cm / 2 m/s took out more
# skating but also held feet that shuffle through a turn or step in place: on the benchmark scripts (8 x 2 seeds)
# segment top-1 fell from 0.797 to 0.703 (turns read as walks, waves as hops). 6 cm / 1 m/s keeps top-1 and still
# halves the skating (0.069 -> 0.034 near seams); 6 cm / 1.5 m/s lost one segment (docs/benchmarks.md).
CONTACT_HEIGHT = 0.06
CONTACT_SPEED = 1.0
# Along a root path the model's legs do not follow the held root and planted feet slide fast: there the first,
# looser thresholds hold them (a 30 s walk on a 4-waypoint path: skating 0.357 unlocked, 0.152 locked at
# 6 cm / 1 m/s, 0.110 at these).
PATH_CONTACT = (0.08, 2.0)
BLEND_FRAMES = 4
_REACH = 0.999  # the farthest the ankle goes from the hip, as a share of thigh + shin


def contact_spans(foot: np.ndarray, fps: float, height: float = CONTACT_HEIGHT,
                  speed: float = CONTACT_SPEED) -> list[tuple[int, int]]:
    """[start, end) frame ranges where a foot (ankle and toe, [T, 2, 3]) rests on the floor (two frames or more)."""
    middle = foot.mean(axis=1)
    velocity = np.zeros(len(foot))
    velocity[1:] = np.linalg.norm(np.diff(middle[:, [0, 2]], axis=0), axis=1) * fps
    velocity[0] = velocity[1] if len(foot) > 1 else 0.0
    # Heel down or toe down: the lower of the two joints decides.
    resting = (foot[:, :, 1].min(axis=1) < height) & (velocity < speed)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], resting.astype(np.int8), [0]])))
    return [(int(start), int(end)) for start, end in zip(edges[::2], edges[1::2]) if end - start >= 2]


def _hold_offsets(point: np.ndarray, spans: list[tuple[int, int]], blend: int, pinned: Sequence[int] = ()) -> np.ndarray:
    """Horizontal offsets [T, 3] that hold `point` over each span, fading out over `blend` frames: at its place on the
    span's first pinned frame, else at its mean place; pinned frames are not moved, the offsets fading in around them."""
    frames = len(point)
    total, weights = np.zeros((frames, 3)), np.zeros(frames)
    anchors = set()
    for start, end in spans:
        # Only the span and its fades get a weight: the rest of the motion is left out of the sums.
        low, high = max(0, start - blend), min(frames, end + blend)
        inside = [frame for frame in sorted(pinned) if start <= frame < end]
        anchors.update(inside[:1])
        anchor = point[inside[0], [0, 2]] if inside else point[start:end, [0, 2]].mean(axis=0)
        held = np.zeros((end - start, 3))
        held[:, [0, 2]] = anchor - point[start:end, [0, 2]]
        offset = held[np.clip(np.arange(low, high), start, end - 1) - start]
        distance = np.maximum(np.maximum(start - np.arange(low, high), np.arange(low, high) - (end - 1)), 0)
        weight = 1.0 - distance / (blend + 1)
        total[low:high] += weight[:, None] * offset
        weights[low:high] += weight
    offsets = total / np.maximum(weights, 1.0)[:, None]
    # The other pinned frames (in another span's fade, or a second one in a span) fade the offsets out around them.
    kept = np.zeros(frames)
    for frame in set(pinned) - anchors:
        low, high = max(0, frame - blend), min(frames, frame + blend + 1)
        kept[low:high] = np.maximum(kept[low:high], 1.0 - np.abs(np.arange(low, high) - frame) / (blend + 1))
    offsets *= (1.0 - kept)[:, None]
    offsets[list(pinned)] = 0.0  # also where another span's fade reaches an anchor
    return offsets


def _place_knees(hip: np.ndarray, knee: np.ndarray, ankle: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Knees and ankles [T, 3] for ankles moved to `target`: bones keep their lengths, knees bend as they did."""
    thigh = np.linalg.norm(knee - hip, axis=1, keepdims=True)
    shin = np.linalg.norm(ankle - knee, axis=1, keepdims=True)
    reach = hip - target
    distance = np.linalg.norm(reach, axis=1, keepdims=True)
    longest = _REACH * (thigh + shin)
    shortest = np.abs(thigh - shin) + 1e-6
    clamped = np.clip(distance, shortest, longest)
    along = -reach / np.maximum(distance, 1e-9)
    ankle_new = hip + along * clamped
    # Law of cosines: how far along hip->ankle the knee sits, and how far off that line.
    a = (thigh**2 - shin**2 + clamped**2) / (2 * clamped)
    r = np.sqrt(np.maximum(thigh**2 - a**2, 0.0))
    pole = (knee - hip) - np.sum((knee - hip) * along, axis=1, keepdims=True) * along
    pole_length = np.linalg.norm(pole, axis=1, keepdims=True)
    forward = np.array([0.0, 0.0, 1.0])  # a straight leg bends forward
    fallback = forward - np.sum(forward * along, axis=1, keepdims=True) * along
    pole = np.where(pole_length > 1e-6, pole, fallback)
    pole /= np.maximum(np.linalg.norm(pole, axis=1, keepdims=True), 1e-9)
    return hip + a * along + r * pole, ankle_new


def lock_feet(positions: np.ndarray, fps: float, blend: int = BLEND_FRAMES, height: float = CONTACT_HEIGHT,
              speed: float = CONTACT_SPEED, pinned: Sequence[int] = ()) -> np.ndarray:
    """`positions` [T, 22, 3] with each foot held still while it rests on the floor, the legs bent to reach; the
    frames in `pinned` (key poses) keep their pose, and a foot resting through one is held where it stands there."""
    locked = positions.astype(np.float64, copy=True)
    for hip, knee, ankle, toe in LEGS:
        foot = locked[:, [ankle, toe]]
        spans = contact_spans(foot, fps, height, speed)
        if not spans:
            continue
        offsets = _hold_offsets(foot.mean(axis=1), spans, blend, pinned)
        moved = np.flatnonzero(np.abs(offsets).sum(axis=1) > 0)
        if moved.size == 0:
            continue
        target = locked[moved, ankle] + offsets[moved]
        knees, ankles = _place_knees(locked[moved, hip], locked[moved, knee], locked[moved, ankle], target)
        # The toe follows its ankle rigidly, also where the leg could not reach the target.
        locked[moved, toe] += ankles - locked[moved, ankle]
        locked[moved, knee], locked[moved, ankle] = knees, ankles
    return locked.astype(positions.dtype)
