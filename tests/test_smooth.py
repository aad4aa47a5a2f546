"""Smoothing generated positions: tremor goes, planted feet and steady paths stay."""

from __future__ import annotations

import numpy as np
import pytest

from syncmotion.motion.smooth import savitzky_golay, smooth_positions


def test_quadratic_paths_and_planted_joints_are_kept_exactly():
    t = np.arange(60, dtype=np.float64)[:, None, None]
    positions = np.zeros((60, 22, 3)) + 0.3  # planted
    positions[:, 0] = (0.01 * t**2 + 0.5 * t)[:, 0]  # an accelerating root
    assert np.allclose(smooth_positions(positions, 7), positions, atol=1e-9)


def test_frame_to_frame_tremor_is_reduced():
    rng = np.random.default_rng(0)
    smooth_path = np.sin(np.linspace(0, 3, 100))[:, None, None] * np.ones((100, 22, 3))
    noisy = (smooth_path + 0.02 * rng.standard_normal((100, 22, 3))).astype(np.float32)
    smoothed = smooth_positions(noisy, 5)
    assert smoothed.dtype == np.float32
    acceleration = lambda x: np.abs(np.diff(x, 2, axis=0)).mean()  # noqa: E731
    assert acceleration(smoothed) < 0.5 * acceleration(noisy)
    assert np.abs(smoothed - smooth_path).mean() < np.abs(noisy - smooth_path).mean()


def test_off_short_and_bad_lengths():
    positions = np.random.default_rng(1).standard_normal((4, 22, 3))
    assert smooth_positions(positions, 0) is positions
    assert smooth_positions(positions, 5) is positions  # shorter than the filter: left alone
    for bad in (2, 4, -1):
        with pytest.raises(ValueError, match="odd number of frames"):
            smooth_positions(positions, bad)


@pytest.mark.parametrize("frames,polyorder,length", [(5, 2, 5), (5, 2, 6), (5, 2, 120), (7, 2, 40), (9, 3, 33), (3, 1, 10)])
def test_savitzky_golay_matches_scipy(frames, polyorder, length):
    from scipy.signal import savgol_filter

    values = np.random.default_rng(frames + length).standard_normal((length, 4, 3))
    expected = savgol_filter(values, frames, polyorder, axis=0, mode="interp")
    assert np.allclose(savitzky_golay(values, frames, polyorder), expected, rtol=0, atol=1e-12)


def test_smoothed_motion_matches_scipy_in_float32():
    from scipy.signal import savgol_filter

    positions = np.random.default_rng(3).standard_normal((90, 22, 3)).astype(np.float32)
    expected = savgol_filter(positions.astype(np.float64), 5, 2, axis=0, mode="interp").astype(np.float32)
    assert np.abs(smooth_positions(positions, 5) - expected).max() <= 1e-6
