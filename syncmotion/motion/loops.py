"""Playing a looped motion on repeat: where the next copy goes, and smoothing that runs across the wrap.

A loop repeats its poses, not its place: each copy starts where the previous one would have gone next, turned by
the previous copy's last turn and moved by its last step (the root keeps its heading and speed across the wrap).
"""

from __future__ import annotations

import numpy as np
import torch

from .features import facing_angle, rotate_y
from .smooth import smooth_positions


def _turn(angle: float) -> float:
    return float((angle + np.pi) % (2 * np.pi) - np.pi)


def _place(positions: np.ndarray, angle: float, origin: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Positions turned by `angle` about the vertical through `origin` (x, z) and moved so `origin` lands on `target`."""
    pivot = np.array([origin[0], 0.0, origin[1]], dtype=np.float64)
    turned = rotate_y(torch.from_numpy(positions.astype(np.float64) - pivot), torch.tensor(angle, dtype=torch.float64))
    return (turned.numpy() + np.array([target[0], 0.0, target[1]])).astype(positions.dtype)


def next_copy(positions: np.ndarray) -> np.ndarray:
    """The motion [T, 22, 3] placed to follow itself: its first frame one step on from its last."""
    heading = facing_angle(torch.from_numpy(positions[[0, -2, -1]].astype(np.float64))).numpy()
    last_turn = _turn(heading[2] - heading[1])
    root = positions[:, 0, :][:, [0, 2]].astype(np.float64)
    step = rotate_y(torch.tensor([root[-1, 0] - root[-2, 0], 0.0, root[-1, 1] - root[-2, 1]]), torch.tensor(last_turn)).numpy()
    target = root[-1] + step[[0, 2]]
    return _place(positions, _turn(heading[2] + last_turn - heading[0]), root[0], target)


def replay(positions: np.ndarray, times: int) -> np.ndarray:
    """The loop played `times` times in a row [times·T, 22, 3]."""
    copies = [positions]
    for _ in range(times - 1):
        copies.append(next_copy(copies[-1]))
    return np.concatenate(copies)


def smooth_loop(positions: np.ndarray, frames: int) -> np.ndarray:
    """smooth_positions as if the loop ran on both sides: the wrap is smoothed like any other frame."""
    if frames == 0:
        return positions
    length = len(positions)
    played = replay(positions, 3)
    middle = smooth_positions(played, frames)[length:2 * length]
    # The middle copy sits where the second playing goes; put it back where the first one is.
    second = played[length:2 * length]
    angle = _turn(facing_angle(torch.from_numpy(positions[:1].astype(np.float64))).item()
                  - facing_angle(torch.from_numpy(second[:1].astype(np.float64))).item())
    return _place(middle, angle, second[0, 0, [0, 2]].astype(np.float64), positions[0, 0, [0, 2]].astype(np.float64))
