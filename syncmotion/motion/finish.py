"""The last touches on generated joint positions: feet locked on the floor, then the model's tremor smoothed out."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .foot_lock import CONTACT_HEIGHT, CONTACT_SPEED, lock_feet
from .loops import smooth_loop
from .smooth import smooth_positions


def finish_positions(joints: np.ndarray, fps: float, smooth: int, foot_lock: bool, loop: bool = False,
                     contact: tuple[float, float] = (CONTACT_HEIGHT, CONTACT_SPEED), pinned: Sequence[int] = ()) -> np.ndarray:
    """Joint positions [T, 22, 3] as a model made them, feet locked if `foot_lock` (in contact below `contact`'s
    height and speed; the `pinned` frames' poses, keys, left as made), then smoothed over `smooth` frames (a loop as
    it plays, running on into its start; its feet are never locked: its contacts run across the wrap)."""
    if loop:
        return smooth_loop(joints, smooth)
    # Smoothing comes last: it takes out the jolt where a locked foot lets go (transition Peak Jerk 0.174 when feet
    # are locked after smoothing, 0.084 when smoothed after locking, on the long-segment scripts; models/EMBEDDED.md,
    # "Sampling defaults"), and as a quadratic fit it keeps a still foot still.
    locked = lock_feet(joints, fps, height=contact[0], speed=contact[1], pinned=pinned) if foot_lock else joints
    return smooth_positions(locked, smooth)
