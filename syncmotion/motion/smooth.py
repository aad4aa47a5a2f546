"""Temporal smoothing of generated joint positions, to take out frame-to-frame tremor a small model leaves."""

from __future__ import annotations

import numpy as np
from scipy.signal import savgol_filter


def check_smoothing(frames: int) -> None:
    """Raise a ValueError unless `frames` is a usable filter length: 0 (none), or odd and at least 3."""
    if frames != 0 and (frames < 3 or frames % 2 == 0):
        raise ValueError(f"--smooth must be 0 (off) or an odd number of frames >= 3, got {frames}")


def smooth_positions(positions: np.ndarray, frames: int) -> np.ndarray:
    """Positions [T, 22, 3] through a quadratic Savitzky-Golay filter `frames` long (odd, >= 3; 0: unchanged)."""
    check_smoothing(frames)
    if frames == 0 or len(positions) < frames:
        return positions
    # A quadratic fit keeps planted feet (constant) and steady or accelerating paths exactly; only the
    # frame-to-frame wobble around them is removed.
    return savgol_filter(np.asarray(positions), frames, polyorder=2, axis=0, mode="interp").astype(positions.dtype)
