"""Temporal smoothing of generated joint positions, to take out frame-to-frame tremor a small model leaves."""

from __future__ import annotations

import numpy as np


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
    return savitzky_golay(np.asarray(positions, dtype=np.float64), frames, polyorder=2).astype(positions.dtype)


def savitzky_golay(values: np.ndarray, frames: int, polyorder: int) -> np.ndarray:
    """`values` [T, ...] filtered along time by a Savitzky-Golay filter `frames` long (odd, <= T), its first and
    last frames/2 frames read off the polynomial fitted to the first and last window (scipy's mode "interp")."""
    # scipy.signal.savgol_filter computes the same (tests/test_smooth.py compares them), but importing scipy.signal
    # takes 0.8 s on a 2-core CPU, longer than a short motion's sampling; smoothing is on by default.
    half = frames // 2
    offsets = np.arange(-half, half + 1, dtype=np.float64)
    vandermonde = offsets[:, None] ** np.arange(polyorder + 1)
    # Row i: the least-squares polynomial of a window, evaluated at the window's frame i.
    fit = vandermonde @ np.linalg.pinv(vandermonde)
    length = len(values)
    windows = np.lib.stride_tricks.sliding_window_view(values, frames, axis=0)  # [T - frames + 1, ..., frames]
    filtered = np.empty_like(values)
    filtered[half : length - half] = windows @ fit[half]
    filtered[:half] = np.einsum("ij,j...->i...", fit[:half], values[:frames])
    filtered[length - half :] = np.einsum("ij,j...->i...", fit[half + 1 :], values[length - frames :])
    return filtered
