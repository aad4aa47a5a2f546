"""BVH export: the 22-joint skeleton in a T-pose with the motion's bone lengths, animated by local joint rotations.

Every joint has Z-Y-X Euler rotation channels (degrees; R = Rz·Ry·Rx). The root, and the children of the
pelvis and of spine3 (hips, spine1, neck, collars), also have position channels: their place relative to the
parent changes a little in real motions, and a single rotation of the parent cannot follow all its children
at once, so these offsets are written per frame. Units are metres, y up.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from syncmotion.files import write_atomically
from .arrays import check_finite, to_tensor
from .ik import BRANCH_FRAMES, CHILDREN, joint_rotations
from .skeleton import JOINT_NAMES, NUM_JOINTS
from .types import Motion

POSITION_JOINTS: tuple[int, ...] = (0,) + tuple(sorted(c for joint in BRANCH_FRAMES for c in CHILDREN[joint]))
# End sites of the leaf joints (toes, head top, fingertips) as a fraction of the bone before them.
END_SITE_SHARE = 0.4
_ROTATION_CHANNELS = "Zrotation Yrotation Xrotation"
_POSITION_CHANNELS = "Xposition Yposition Zposition"


def _hierarchy(rest: np.ndarray) -> str:
    """The HIERARCHY section for rest offsets [22, 3]."""
    lines: list[str] = ["HIERARCHY"]
    rest = rest.round(6) + 0.0  # no "-0.000000" in the file

    def joint(index: int, depth: int) -> None:
        pad = "  " * depth
        keyword = "ROOT" if index == 0 else "JOINT"
        offset = np.zeros(3) if index == 0 else rest[index]
        channels = f"{_POSITION_CHANNELS} {_ROTATION_CHANNELS}" if index in POSITION_JOINTS else _ROTATION_CHANNELS
        lines.extend([
            f"{pad}{keyword} {JOINT_NAMES[index]}", f"{pad}{{",
            f"{pad}  OFFSET {offset[0]:.6f} {offset[1]:.6f} {offset[2]:.6f}",
            f"{pad}  CHANNELS {len(channels.split())} {channels}",
        ])
        if CHILDREN[index]:
            for child in CHILDREN[index]:
                joint(child, depth + 1)
        else:
            end = rest[index] * END_SITE_SHARE
            lines.extend([f"{pad}  End Site", f"{pad}  {{", f"{pad}    OFFSET {end[0]:.6f} {end[1]:.6f} {end[2]:.6f}",
                          f"{pad}  }}"])
        lines.append(f"{pad}}}")

    joint(0, 0)
    return "\n".join(lines) + "\n"


def _joint_order() -> list[int]:
    """Joints in the depth-first order of the HIERARCHY section (the order of the MOTION columns)."""
    order: list[int] = []

    def visit(index: int) -> None:
        order.append(index)
        for child in CHILDREN[index]:
            visit(child)

    visit(0)
    return order


def bvh_text(motion: Motion) -> str:
    """The BVH file contents for `motion`."""
    positions, _ = to_tensor(motion.positions)
    if positions.ndim != 3 or positions.shape[1:] != (NUM_JOINTS, 3):
        raise ValueError(f"BVH export needs positions shaped [T, 22, 3], got {tuple(positions.shape)}")
    check_finite(positions, "BVH export")
    if not motion.fps > 0:
        raise ValueError(f"BVH export needs a positive frame rate, got fps={motion.fps}")
    rotations, root, offsets = (part.double().numpy() for part in joint_rotations(positions))
    frames = rotations.shape[0]
    # Z-Y-X intrinsic angles; unwrapped over time so that players interpolate without 360° spins.
    euler = Rotation.from_matrix(rotations.reshape(-1, 3, 3)).as_euler("ZYX", degrees=True).reshape(frames, NUM_JOINTS, 3)
    euler = np.unwrap(euler, period=360.0, axis=0)
    columns: list[np.ndarray] = []
    for joint in _joint_order():
        if joint in POSITION_JOINTS:
            columns.append(root if joint == 0 else offsets[:, joint])
        columns.append(euler[:, joint])
    table = io.StringIO()
    np.savetxt(table, np.concatenate(columns, axis=1), fmt="%.6f")
    motion_header = f"MOTION\nFrames: {frames}\nFrame Time: {1.0 / motion.fps:.8f}\n"
    return _hierarchy(offsets.mean(axis=0)) + motion_header + table.getvalue()


def save_bvh(motion: Motion, path: str | Path) -> Path:
    """Write `motion` as a BVH file at `path` (replaced whole, never half-written); returns the path."""
    path = Path(path)
    text = bvh_text(motion)
    write_atomically(path, lambda temporary: temporary.write_text(text, encoding="ascii"))
    return path
