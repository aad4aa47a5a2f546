"""BVH files: the 22-joint skeleton in a T-pose with the motion's bone lengths, animated by local joint rotations.

Every joint has Z-Y-X Euler rotation channels (degrees; R = Rz·Ry·Rx). The root, and the joints whose offsets
move (`rig.POSITION_JOINTS`), also have position channels. Units are metres, y up.

Reading takes a BVH of the same 22 joints (as written here, or by a tool that kept the joint names and tree).
It is a small tokenizer rather than bvhio: bvhio loops forever on a file with fewer frames than it declares.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np

from syncmotion.files import write_atomically
from .ik import CHILDREN
from .rig import END_SITE_SHARE, POSITION_JOINTS, RigidAnimation, rigid_animation
from .skeleton import JOINT_NAMES, NUM_JOINTS, PARENTS
from .types import Motion

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


def euler_zyx_degrees(matrices: np.ndarray) -> np.ndarray:
    """Z, Y, X intrinsic Euler angles in degrees [..., 3] of rotation matrices [..., 3, 3] (R = Rz·Ry·Rx)."""
    # scipy's Rotation.as_euler("ZYX") gives the same (tests/test_bvh.py compares them); importing scipy.spatial
    # costs more than a BVH export's arithmetic. In gimbal lock (Y at ±90°) X is taken as 0, as scipy does.
    r = np.asarray(matrices, dtype=np.float64)
    cos_y = np.hypot(r[..., 0, 0], r[..., 1, 0])
    locked = cos_y < 1e-7
    z = np.where(locked, np.arctan2(-r[..., 0, 1], r[..., 1, 1]), np.arctan2(r[..., 1, 0], r[..., 0, 0]))
    y = np.arctan2(-r[..., 2, 0], cos_y)
    x = np.where(locked, 0.0, np.arctan2(r[..., 2, 1], r[..., 2, 2]))
    return np.degrees(np.stack([z, y, x], axis=-1))


def bvh_text(motion: Motion) -> str:
    """The BVH file contents for `motion`."""
    rig = rigid_animation(motion, "BVH export")
    frames = rig.rotations.shape[0]
    # Z-Y-X intrinsic angles; unwrapped over time so that players interpolate without 360° spins.
    euler = np.unwrap(euler_zyx_degrees(rig.rotations), period=360.0, axis=0)
    columns: list[np.ndarray] = []
    for joint in _joint_order():
        if joint in POSITION_JOINTS:
            columns.append(rig.translations[:, joint])
        columns.append(euler[:, joint])
    table = io.StringIO()
    np.savetxt(table, np.concatenate(columns, axis=1), fmt="%.6f")
    motion_header = f"MOTION\nFrames: {frames}\nFrame Time: {1.0 / motion.fps:.8f}\n"
    return _hierarchy(rig.rest) + motion_header + table.getvalue()


def save_bvh(motion: Motion, path: str | Path) -> Path:
    """Write `motion` as a BVH file at `path` (replaced whole, never half-written); returns the path."""
    path = Path(path)
    text = bvh_text(motion)
    write_atomically(path, lambda temporary: temporary.write_text(text, encoding="ascii"))
    return path


def _parse_hierarchy(tokens: list[str]) -> list[tuple[str, int, np.ndarray, list[str]]]:
    """The joints of a HIERARCHY section's tokens: (name, parent index or -1, offset, channels), in file order."""
    if not tokens or tokens[0] != "HIERARCHY":
        raise ValueError("it does not start with HIERARCHY")
    joints: list[tuple[str, int, np.ndarray, list[str]]] = []
    open_joints: list[int] = []  # the joints whose braces are open, innermost last
    index = 1
    while index < len(tokens):
        token = tokens[index]
        if token in ("ROOT", "JOINT") and tokens[index + 2:index + 3] == ["{"]:
            if (token == "ROOT") != (not joints) or (token == "JOINT") != bool(open_joints):
                raise ValueError("it must have one ROOT, first, and JOINTs inside it")
            joints.append((tokens[index + 1], open_joints[-1] if open_joints else -1, np.zeros(3), []))
            open_joints.append(len(joints) - 1)
            index += 3
        elif token == "OFFSET" and open_joints:
            joints[open_joints[-1]][2][:] = [float(value) for value in tokens[index + 1:index + 4]]
            index += 4
        elif token == "CHANNELS" and open_joints:
            count = int(tokens[index + 1])
            joints[open_joints[-1]][3][:] = tokens[index + 2:index + 2 + count]
            index += 2 + count
        elif tokens[index:index + 3] == ["End", "Site", "{"] and tokens[index + 3:index + 4] == ["OFFSET"]:
            if tokens[index + 7:index + 8] != ["}"]:
                raise ValueError("an End Site is not closed")
            index += 8  # an end site only draws a leaf bone's tip
        elif token == "}" and open_joints:
            open_joints.pop()
            index += 1
        else:
            raise ValueError(f"unexpected {token!r} in HIERARCHY")
    if open_joints or not joints:
        raise ValueError("its HIERARCHY has unclosed braces or no joints")
    return joints


def _frames(text: str, columns: int) -> tuple[np.ndarray, float]:
    """The MOTION section's values [T, columns] and frame time."""
    match = re.match(r"\s*Frames:\s*(\d+)\s+Frame\s+Time:\s*(\S+)\s", text + "\n")
    if match is None:
        raise ValueError("its MOTION section does not start with 'Frames: N' and 'Frame Time: SECONDS'")
    frames, frame_time = int(match[1]), float(match[2])
    if not 1e-6 < frame_time < 1e6:
        raise ValueError(f"its frame time is {match[2]}, not a plausible number of seconds per frame")
    values = np.array(text[match.end():].split(), dtype=np.float64)
    if frames < 1 or values.size != frames * columns:
        raise ValueError(f"it declares {frames} frames of {columns} channels but holds {values.size} values")
    return values.reshape(frames, columns), frame_time


def _rig_from_bvh(joints: list[tuple[str, int, np.ndarray, list[str]]], values: np.ndarray, fps: float) -> RigidAnimation:
    """The rigid animation of parsed BVH joints, in JOINT_NAMES order."""
    from scipy.spatial.transform import Rotation  # any of the six axis orders; imported only when a file is read

    names = [joint[0] for joint in joints]
    if sorted(names) != sorted(JOINT_NAMES):
        raise ValueError(f"its joints are not the 22 of the HumanML3D skeleton ({', '.join(JOINT_NAMES[:3])}, ...)")
    order = [names.index(name) for name in JOINT_NAMES]
    if [order.index(joints[i][1]) if joints[i][1] >= 0 else -1 for i in order] != list(PARENTS):
        raise ValueError("its joints are the HumanML3D ones but in another tree")
    frames = len(values)
    rotations = np.tile(np.eye(3), (frames, NUM_JOINTS, 1, 1))
    translations = np.zeros((frames, NUM_JOINTS, 3))
    column = 0
    for file_index, (_, _, offset, channels) in enumerate(joints):
        joint = order.index(file_index)
        translations[:, joint] = offset
        axes = ""
        angles = []
        for channel in channels:
            if channel in ("Xposition", "Yposition", "Zposition"):
                translations[:, joint, "XYZ".index(channel[0])] = values[:, column]
            elif channel in ("Xrotation", "Yrotation", "Zrotation"):
                axes += channel[0]
                angles.append(values[:, column])
            else:
                raise ValueError(f"joint {JOINT_NAMES[joint]} has an unknown channel {channel!r}")
            column += 1
        if axes:
            if len(set(axes)) != len(axes):
                raise ValueError(f"joint {JOINT_NAMES[joint]} rotates about one axis twice ({axes})")
            # BVH's rotation channels are intrinsic, in the order listed.
            rotations[:, joint] = Rotation.from_euler(axes, np.stack(angles, axis=-1), degrees=True).as_matrix()
    return RigidAnimation(rotations, translations, fps)


def load_bvh(path: str | Path) -> Motion:
    """A motion from a BVH file of the 22-joint skeleton (as save_bvh writes it), positions by forward kinematics."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not a BVH file (not text); expected a .bvh exported by syncmotion") from None
    parts = re.split(r"^\s*MOTION\s*$", text, maxsplit=1, flags=re.MULTILINE)
    try:
        if len(parts) != 2:
            raise ValueError("it has no MOTION section")
        joints = _parse_hierarchy(parts[0].split())
        values, frame_time = _frames(parts[1], sum(len(joint[3]) for joint in joints))
        rig = _rig_from_bvh(joints, values, 1.0 / frame_time)
    except (ValueError, IndexError, OverflowError) as error:
        raise ValueError(f"{path} is not a BVH motion of the 22-joint skeleton: {error}") from None
    with np.errstate(over="ignore", invalid="ignore"):
        positions = rig.positions().astype(np.float32)
    if not np.isfinite(positions).all():
        raise ValueError(f"{path}: its joint positions hold NaN or infinite values")
    # The file keeps 8 decimals of the frame time: 1/30 s must read back as 30 fps, not 30.0000003.
    fps = round(rig.fps) if abs(rig.fps - round(rig.fps)) < 1e-4 else rig.fps
    return Motion(positions, float(fps))
