"""The 263-dim HumanML3D motion vector, both ways, and its mean/std normalization.

Layout per frame (HumanML3D, 22 joints): root angular velocity about y (1, as HumanML3D stores it: half the
per-frame yaw change), root linear velocity in x/z in the facing frame (2), root height (1), joint positions
1..21 relative to the root in the facing frame (63), 6D local rotations of joints 1..21 (126), joint
velocities in the facing frame (66), left/right foot contacts (4). T frames of joints give T-1 feature frames.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

from .skeleton import KINEMATIC_CHAIN, LEFT_FOOT_JOINTS, NUM_JOINTS, REST_DIRECTIONS, RIGHT_FOOT_JOINTS

FEATURE_DIM = 263
FPS = 20
# HumanML3D's contact rule: squared per-frame foot displacement below this many square metres.
FOOT_VELOCITY_THRESHOLD = 0.002
RIGHT_HIP, LEFT_HIP, RIGHT_SHOULDER, LEFT_SHOULDER = 2, 1, 17, 16

Array = TypeVar("Array", np.ndarray, torch.Tensor)


def _as_tensor(data: np.ndarray | torch.Tensor) -> tuple[torch.Tensor, bool]:
    if isinstance(data, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(data, dtype=np.float32)), True
    return data.float(), False


def _like(result: torch.Tensor, was_numpy: bool) -> np.ndarray | torch.Tensor:
    return result.numpy() if was_numpy else result


def _check_joints(positions: torch.Tensor, minimum_frames: int) -> None:
    if positions.ndim < 3 or positions.shape[-2:] != (NUM_JOINTS, 3):
        raise ValueError(f"joint positions must be shaped [..., T, 22, 3], got {tuple(positions.shape)}")
    if positions.shape[-3] < minimum_frames:
        raise ValueError(f"need at least {minimum_frames} frames of joint positions, got {positions.shape[-3]}")


def facing_angle(positions: torch.Tensor) -> torch.Tensor:
    """Heading φ [..., T] of the body (0 = facing +z), from the hips and shoulders as HumanML3D does."""
    across = (positions[..., RIGHT_HIP, :] - positions[..., LEFT_HIP, :]
              + positions[..., RIGHT_SHOULDER, :] - positions[..., LEFT_SHOULDER, :])
    # forward = up × across = (across_z, 0, -across_x)
    return torch.atan2(across[..., 2], -across[..., 0])


def rotate_y(vectors: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Rotate vectors [..., 3] about +y by `angle` (broadcast over the leading dims, right-handed)."""
    cos, sin = torch.cos(angle)[..., None], torch.sin(angle)[..., None]
    x, y, z = vectors[..., 0:1], vectors[..., 1:2], vectors[..., 2:3]
    return torch.cat([x * cos + z * sin, y, z * cos - x * sin], dim=-1)


def canonicalize(positions: Array) -> Array:
    """Feet on the floor (y=0), root x/z at the origin and facing +z at frame 0."""
    joints, was_numpy = _as_tensor(positions)
    _check_joints(joints, 1)
    floor = joints[..., 1].amin(dim=(-2, -1), keepdim=True)
    shifted = joints - torch.stack([joints[..., :1, :1, 0], floor, joints[..., :1, :1, 2]], dim=-1)
    heading = facing_angle(joints[..., :1, :, :])[..., None]
    return _like(rotate_y(shifted, -heading), was_numpy)


def _rotation_between(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The smallest rotation matrices [..., 3, 3] turning unit vectors `source` into unit vectors `target`."""
    axis = torch.cross(source, target, dim=-1)
    cos = (source * target).sum(-1)
    # Opposite vectors: turn half a circle about an axis perpendicular to the source.
    opposite = cos < -1 + 1e-6
    fallback = torch.cross(source, torch.tensor([0.0, 0.0, 1.0]).expand_as(source), dim=-1)
    fallback = torch.where(fallback.norm(dim=-1, keepdim=True) < 1e-6,
                           torch.cross(source, torch.tensor([1.0, 0.0, 0.0]).expand_as(source), dim=-1), fallback)
    quaternion = torch.cat([(1 + cos)[..., None], axis], dim=-1)
    quaternion = torch.where(opposite[..., None], torch.cat([torch.zeros_like(cos)[..., None], fallback], dim=-1), quaternion)
    w, x, y, z = torch.nn.functional.normalize(quaternion, dim=-1).unbind(-1)
    return torch.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
        2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
        2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y),
    ], dim=-1).reshape(*w.shape, 3, 3)


def _bone_parents() -> tuple[list[int], list[int]]:
    """For joints 1..21: the chain predecessor of each joint, and the bone whose rotation precedes it (-1: root)."""
    previous_joint, previous_bone = [0] * NUM_JOINTS, [-1] * NUM_JOINTS
    for chain in KINEMATIC_CHAIN:
        for index in range(1, len(chain)):
            previous_joint[chain[index]] = chain[index - 1]
            previous_bone[chain[index]] = chain[index - 1] if index > 1 else -1
    return previous_joint[1:], previous_bone[1:]


PREVIOUS_JOINT, PREVIOUS_BONE = _bone_parents()


def local_rotations_6d(positions: torch.Tensor, heading: torch.Tensor) -> torch.Tensor:
    """6D rotations [..., T, 21, 6]: each bone's turn from its rest direction, relative to the bone before it.

    As HumanML3D's inverse kinematics, but measured in the facing frame, so the features do not depend on
    the heading of the body (HumanML3D measures them in the world frame of its canonicalized clips).
    """
    bones = positions[..., 1:, :] - positions[..., PREVIOUS_JOINT, :]
    directions = torch.nn.functional.normalize(rotate_y(bones, -heading[..., None]), dim=-1)
    rest = torch.tensor(REST_DIRECTIONS[1:], dtype=positions.dtype).expand_as(directions)
    world = _rotation_between(rest, directions)
    identity = torch.eye(3, dtype=positions.dtype).expand(*heading.shape, 1, 3, 3)
    before = torch.cat([identity, world], dim=-3)[..., [max(bone, 0) for bone in PREVIOUS_BONE], :, :]
    local = before.transpose(-1, -2) @ world
    return torch.cat([local[..., 0], local[..., 1]], dim=-1)


def joints_to_features(positions: Array) -> Array:
    """263-dim HumanML3D features [..., T-1, 263] from joint positions [..., T, 22, 3] (metres, y up, 20 fps)."""
    joints, was_numpy = _as_tensor(positions)
    _check_joints(joints, 2)
    heading = facing_angle(joints)
    yaw = -heading  # the root rotation (world -> facing frame) is a turn by -heading about y
    root = joints[..., 0, :]
    turn = torch.remainder(yaw[..., 1:] - yaw[..., :-1] + torch.pi, 2 * torch.pi) - torch.pi
    root_velocity = rotate_y(root[..., 1:, :] - root[..., :-1, :], yaw[..., 1:])
    local = joints - torch.stack([root[..., 0], torch.zeros_like(root[..., 0]), root[..., 2]], dim=-1)[..., None, :]
    local = rotate_y(local, yaw[..., None])
    velocity = rotate_y(joints[..., 1:, :, :] - joints[..., :-1, :, :], yaw[..., :-1, None])
    step = ((joints[..., 1:, :, :] - joints[..., :-1, :, :]) ** 2).sum(-1)
    contacts = (step[..., list(LEFT_FOOT_JOINTS) + list(RIGHT_FOOT_JOINTS)] < FOOT_VELOCITY_THRESHOLD).float()
    rotations = local_rotations_6d(joints, heading)
    features = torch.cat([
        (turn / 2)[..., None], root_velocity[..., [0, 2]], root[..., :-1, 1:2],
        local[..., :-1, 1:, :].flatten(-2), rotations[..., :-1, :, :].flatten(-2), velocity.flatten(-2), contacts,
    ], dim=-1)
    return _like(features, was_numpy)


def features_to_joints(features: Array) -> Array:
    """Joint positions [..., T, 22, 3] from features [..., T, 263] (MDM's recover_from_ric: starts at the origin facing +z)."""
    data, was_numpy = _as_tensor(features)
    if data.shape[-1] != FEATURE_DIM or data.ndim < 2:
        raise ValueError(f"features must be shaped [..., T, {FEATURE_DIM}], got {tuple(data.shape)}")
    # Twice the cumulative half-angle velocity: the yaw of each frame, 0 at the first.
    yaw = 2 * torch.cat([torch.zeros_like(data[..., :1, 0]), torch.cumsum(data[..., :-1, 0], dim=-1)], dim=-1)
    step = torch.zeros(*data.shape[:-1], 3, dtype=data.dtype)
    step[..., 1:, 0], step[..., 1:, 2] = data[..., :-1, 1], data[..., :-1, 2]
    root = torch.cumsum(rotate_y(step, -yaw), dim=-2)
    root[..., 1] = data[..., 3]
    local = data[..., 4:67].reshape(*data.shape[:-1], NUM_JOINTS - 1, 3)
    world = rotate_y(local, -yaw[..., None])
    world = world + torch.stack([root[..., 0], torch.zeros_like(root[..., 0]), root[..., 2]], dim=-1)[..., None, :]
    return _like(torch.cat([root[..., None, :], world], dim=-2), was_numpy)


class Normalizer:
    """A feature mean/std pair: what models see is (x - mean) / std."""

    def __init__(self, mean: torch.Tensor | np.ndarray, std: torch.Tensor | np.ndarray) -> None:
        self.mean = torch.as_tensor(np.asarray(mean, dtype=np.float32) if isinstance(mean, np.ndarray) else mean).float()
        self.std = torch.as_tensor(np.asarray(std, dtype=np.float32) if isinstance(std, np.ndarray) else std).float()
        if self.mean.shape != self.std.shape or self.mean.ndim != 1:
            raise ValueError(f"mean and std must be equal-length vectors, got {tuple(self.mean.shape)} and {tuple(self.std.shape)}")
        if not bool((self.std > 0).all()):
            raise ValueError("std has zero or negative entries; a normalizer needs a positive std per feature")

    def normalize(self, features: torch.Tensor) -> torch.Tensor:
        """(features - mean) / std."""
        return (features - self.mean.to(features)) / self.std.to(features)

    def denormalize(self, features: torch.Tensor) -> torch.Tensor:
        """features * std + mean."""
        return features * self.std.to(features) + self.mean.to(features)

    def save(self, path: str | Path) -> None:
        """Write mean and std to a safetensors file."""
        from safetensors.torch import save_file

        save_file({"mean": self.mean.contiguous(), "std": self.std.contiguous()}, str(path))

    @classmethod
    def load(cls, path: str | Path) -> Normalizer:
        """From a safetensors file (mean, std) or a folder with HumanML3D's Mean.npy and Std.npy."""
        path = Path(path)
        if path.is_dir():
            missing = [name for name in ("Mean.npy", "Std.npy") if not (path / name).exists()]
            if missing:
                raise FileNotFoundError(f"{path} lacks {' and '.join(missing)}: --meta needs HumanML3D's Mean.npy and Std.npy")
            return cls(np.load(path / "Mean.npy"), np.load(path / "Std.npy"))
        if not path.exists():
            raise FileNotFoundError(f"no normalizer at {path}: give a folder with Mean.npy/Std.npy or a .safetensors file")
        from safetensors.torch import load_file

        tensors = load_file(str(path))
        return cls(tensors["mean"], tensors["std"])
