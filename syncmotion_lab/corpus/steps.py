"""Footstep plans: planted feet that stay put, swing feet on smooth arcs, and the pelvis path they imply."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

from syncmotion_lab.corpus.rig import SIDE, Body, Controls


@dataclass(frozen=True)
class Step:
    """One swing of one foot: from wherever it is to (x, z, yaw) over [start, start + duration) seconds."""

    foot: int
    start: float
    duration: float
    x: float
    z: float
    yaw: float
    lift: float


def min_jerk(u: np.ndarray) -> np.ndarray:
    """The minimum-jerk ease from 0 to 1 (zero velocity and acceleration at both ends)."""
    u = np.clip(u, 0.0, 1.0)
    return u**3 * (10 - 15 * u + 6 * u**2)


def bump(u: np.ndarray) -> np.ndarray:
    """A smooth 0 -> 1 -> 0 bump over u in [0, 1], flat at both ends."""
    u = np.clip(u, 0.0, 1.0)
    return 16 * u**2 * (1 - u) ** 2


def print_at(x: float, z: float, yaw: float, foot: int, width: float) -> tuple[float, float]:
    """Ankle position of `foot` for a body standing at (x, z) with heading `yaw`."""
    return x + SIDE[foot] * width * np.cos(yaw), z - SIDE[foot] * width * np.sin(yaw)


def apply_steps(c: Controls, body: Body, steps: list[Step], fps: float) -> np.ndarray:
    """Move the ankle targets of `c` along the steps (in place); returns the swing progress [T, 2] (0 planted)."""
    t = np.arange(c.frames) / fps
    swing = np.zeros((c.frames, 2))
    for step in sorted(steps, key=lambda s: s.start):
        i = step.foot
        k = int(np.clip(np.ceil(step.start * fps), 0, c.frames - 1))
        before = c.ankles[k, i].copy()
        before_yaw = float(c.foot_yaw[k, i])
        later = t >= step.start
        u = (t[later] - step.start) / step.duration
        s = min_jerk(u)
        c.ankles[later, i, 0] = before[0] + (step.x - before[0]) * s
        c.ankles[later, i, 2] = before[2] + (step.z - before[2]) * s
        c.ankles[later, i, 1] = body.ankle_height + step.lift * bump(u)
        c.foot_yaw[later, i] = before_yaw + (step.yaw - before_yaw) * s
        active = (u > 0) & (u < 1)
        swing[np.flatnonzero(later)[active], i] = u[active]
        # Heel rises first, toes lift before landing; scaled by how high the foot goes.
        c.foot_pitch[np.flatnonzero(later)[active], i] = min(0.6, 4 * step.lift) * np.sin(2 * np.pi * u[active])
    return swing


def follow_feet(c: Controls, fps: float, smooth_s: float = 0.18) -> None:
    """Put the pelvis (in place) over the middle of the feet, smoothed, and turn it with the feet."""
    middle = c.ankles[:, :, [0, 2]].mean(1)
    sigma = smooth_s * fps
    # A short kernel (2.5 sigma) keeps the pelvis exactly still while both feet are planted at the ends.
    c.root[:, 0] = gaussian_filter1d(middle[:, 0], sigma, mode="nearest", truncate=2.5)
    c.root[:, 2] = gaussian_filter1d(middle[:, 1], sigma, mode="nearest", truncate=2.5)
    heading = np.angle(np.exp(1j * c.foot_yaw).sum(1))
    heading = np.unwrap(heading)
    c.yaw[:] = gaussian_filter1d(heading, sigma, mode="nearest", truncate=2.5)


def walking_steps(
    body: Body, first_foot: int, count: int, stride: tuple[float, float], turn: float, period: float,
    swing: float, lift: float, start: float, width: float | None = None,
) -> list[Step]:
    """Alternating steps of a body that advances `stride` (lateral, forward; body frame) and turns `turn` per step.

    The last step brings the trailing foot beside the leading one, so the body ends standing still.
    `width` is half the distance between the footprints (default: the body's stance).
    """
    poses = [(0.0, 0.0, 0.0)]
    for _ in range(count):
        x, z, yaw = poses[-1]
        dx, dz = stride
        poses.append((x + dx * np.cos(yaw) + dz * np.sin(yaw), z - dx * np.sin(yaw) + dz * np.cos(yaw), yaw + turn))
    steps = []
    width = body.stance_width if width is None else width
    for k in range(count + 1):
        foot = (first_foot + k) % 2
        x, z, yaw = poses[min(k + 1, count)]
        px, pz = print_at(x, z, yaw, foot, width)
        steps.append(Step(foot, start + k * period, swing * period, px, pz, yaw, lift))
    return steps
