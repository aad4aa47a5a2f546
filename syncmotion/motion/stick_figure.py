"""A stick figure to skin on the rest skeleton: one octahedral bone (as rigging tools draw bones) per bone, by limb.

Each bone's base and its widest ring follow the joint it starts at, its tip follows the joint it ends at, so the
sticks always meet at the joints even where offsets move (hips, collars). Beyond each leaf joint a shorter bone
follows that joint alone (toes, head top, fingertips).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .ik import CHILDREN
from .rig import END_SITE_SHARE
from .skeleton import KINEMATIC_CHAIN, PARENTS

# sRGB colours of the limbs in KINEMATIC_CHAIN's order, as the viewer draws them.
LIMB_COLOURS: tuple[int, ...] = (0xD62728, 0x1F77B4, 0x444444, 0xFF7F0E, 0x17BECF)
LIMB_NAMES: tuple[str, ...] = ("right_leg", "left_leg", "spine", "right_arm", "left_arm")
# Where the widest ring sits along a bone, and its radius as a share of the bone's length (clipped to metres).
_RING_AT, _RING_SHARE, _RING_RADIUS = 0.2, 0.12, (0.01, 0.04)


@dataclass(frozen=True)
class Limb:
    """Triangles of one limb: vertex positions and unit normals [V, 3], the joint each vertex follows [V], a linear colour."""

    name: str
    positions: np.ndarray
    normals: np.ndarray
    joints: np.ndarray
    colour: tuple[float, float, float]


def _bone(base: np.ndarray, tip: np.ndarray) -> np.ndarray:
    """The 8 outward-facing triangles [8, 3, 3] of an octahedral bone from `base` to `tip`."""
    along = tip - base
    length = float(np.linalg.norm(along))
    axis = along / length
    helper = np.array([1.0, 0.0, 0.0]) if abs(axis[0]) < 0.9 else np.array([0.0, 0.0, 1.0])
    side = np.cross(axis, helper)
    side /= np.linalg.norm(side)
    other = np.cross(axis, side)
    centre = base + _RING_AT * along
    radius = float(np.clip(_RING_SHARE * length, *_RING_RADIUS))
    angles = np.arange(4) * np.pi / 2
    ring = centre + radius * (np.cos(angles)[:, None] * side + np.sin(angles)[:, None] * other)
    triangles = []
    for k in range(4):
        a, b = ring[k], ring[(k + 1) % 4]
        for apex in (base, tip):
            triangle = np.stack([apex, a, b])
            normal = np.cross(a - apex, b - apex)
            # Wound counter-clockwise seen from outside, so that renderers that cull back faces show the bone.
            if normal @ (triangle.mean(axis=0) - centre) < 0:
                triangle = triangle[[0, 2, 1]]
            triangles.append(triangle)
    return np.stack(triangles)


def stick_figure(rest_world: np.ndarray) -> list[Limb]:
    """The limbs of the stick figure for rest joint positions [22, 3] (metres)."""
    limbs = []
    for chain, name, colour in zip(KINEMATIC_CHAIN, LIMB_NAMES, LIMB_COLOURS):
        triangles, joints = [], []
        for start, end in zip(chain[:-1], chain[1:]):
            triangles.append(_bone(rest_world[start], rest_world[end]))
            # Per triangle: the apex is the base (follows `start`) or the tip (follows `end`); the ring follows `start`.
            joints.append(np.array([[start, start, start], [end, start, start]] * 4))
        leaf = chain[-1]
        if not CHILDREN[leaf]:
            tip = rest_world[leaf] + END_SITE_SHARE * (rest_world[leaf] - rest_world[PARENTS[leaf]])
            triangles.append(_bone(rest_world[leaf], tip))
            joints.append(np.full((8, 3), leaf))
        corners = np.concatenate(triangles)
        normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
        normals /= np.linalg.norm(normals, axis=-1, keepdims=True)
        # glTF colours are linear; the viewer's are sRGB (gamma about 2.2).
        srgb = np.array([(colour >> shift) & 0xFF for shift in (16, 8, 0)]) / 255.0
        limbs.append(Limb(name, corners.reshape(-1, 3).astype(np.float32), np.repeat(normals, 3, axis=0).astype(np.float32),
                          np.concatenate(joints).reshape(-1), tuple((srgb ** 2.2).tolist())))
    return limbs
