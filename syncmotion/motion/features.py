"""The 263-dim HumanML3D motion vector, both ways, and its mean/std normalization.

Layout per frame (HumanML3D, 22 joints): root angular velocity about y (1, as HumanML3D stores it: half the
per-frame yaw change), root linear velocity in x/z in the facing frame (2), root height (1), joint positions
1..21 relative to the root in the facing frame (63), 6D local rotations of joints 1..21 (126), joint
velocities in the facing frame (66), left/right foot contacts (4). T frames of joints give T-1 feature frames.

The conventions are those of the released HumanML3D data: on its sample 012314 (new_joints -> features) all 263
numbers agree with its new_joint_vecs to 3e-5, except in the last 60 frames, where HumanML3D smoothed the
heading over one more frame than it stores (tools/check_humanml3d.py). The root's facing frame: from frame 1 on
it is the facing of HumanML3D's inverse_kinematics_np, which takes the hip pair left-minus-right but the
shoulder pair right-minus-left (so it follows the shoulders' heading against the hips', not the plain body
facing), smoothed over time with a Gaussian of sigma 20 frames (edges held); frame 0 keeps the body's own facing
(identity for canonical clips: HumanML3D resets the first root rotation). The 6D rotations are HumanML3D's
inverse kinematics per limb chain in the world frame relative to that root rotation. `canonicalize` and
`facing_angle` use the plain facing (both pairs right-minus-left), as HumanML3D's canonicalization does.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

from syncmotion.files import write_atomically
from .arrays import check_joints, like_input, to_tensor
from .ik import rotation_between
from .skeleton import KINEMATIC_CHAIN, LEFT_FOOT_JOINTS, NUM_JOINTS, REST_DIRECTIONS, RIGHT_FOOT_JOINTS

FEATURE_DIM = 263
# Where each part of the layout above sits among the 263 numbers.
ROOT_FEATURES = slice(0, 4)
POSITION_FEATURES = slice(4, 67)
ROTATION_FEATURES = slice(67, 193)
VELOCITY_FEATURES = slice(193, 259)
# HumanML3D's contact rule: squared per-frame foot displacement below this many square metres.
FOOT_VELOCITY_THRESHOLD = 0.002
# HumanML3D smooths the facing direction with scipy's gaussian_filter1d(sigma=20, mode="nearest", truncate=4).
HEADING_SMOOTHING_SIGMA = 20.0
RIGHT_HIP, LEFT_HIP, RIGHT_SHOULDER, LEFT_SHOULDER = 2, 1, 17, 16

Array = TypeVar("Array", np.ndarray, torch.Tensor)


def _forward(positions: torch.Tensor, hips: tuple[int, int] = (RIGHT_HIP, LEFT_HIP)) -> torch.Tensor:
    """Unnormalized horizontal facing directions [..., T, 2] (x, z): up × (hips + shoulders, right to left)."""
    first, second = hips
    across = (positions[..., first, :] - positions[..., second, :]
              + positions[..., RIGHT_SHOULDER, :] - positions[..., LEFT_SHOULDER, :])
    across = torch.nn.functional.normalize(across, dim=-1)
    return torch.stack([across[..., 2], -across[..., 0]], dim=-1)


def facing_angle(positions: torch.Tensor) -> torch.Tensor:
    """Heading [..., T] of the body in each frame (0 = facing +z), from the hips and shoulders as HumanML3D does."""
    forward = _forward(positions)
    return torch.atan2(forward[..., 0], forward[..., 1])


def _smooth_over_time(signal: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian smoothing of [..., T, C] along T with held edges (scipy's gaussian_filter1d, mode='nearest')."""
    radius = int(4 * sigma + 0.5)
    taps = torch.arange(-radius, radius + 1, dtype=signal.dtype, device=signal.device)
    kernel = torch.exp(-0.5 * (taps / sigma) ** 2)
    kernel = kernel / kernel.sum()
    frames, channels = signal.shape[-2:]
    flat = signal.movedim(-2, -1).reshape(-1, 1, frames)
    padded = torch.nn.functional.pad(flat, (radius, radius), mode="replicate")
    smooth = torch.nn.functional.conv1d(padded, kernel.view(1, 1, -1))
    return smooth.reshape(*signal.shape[:-2], channels, frames).movedim(-1, -2)


def root_heading(positions: torch.Tensor) -> torch.Tensor:
    """Heading [..., T] of the root's facing frame, as in the released HumanML3D data (see the module docstring)."""
    forward = _smooth_over_time(_forward(positions, hips=(LEFT_HIP, RIGHT_HIP)), HEADING_SMOOTHING_SIGMA)
    smooth = torch.atan2(forward[..., 0], forward[..., 1])
    return torch.cat([facing_angle(positions[..., :1, :, :]), smooth[..., 1:]], dim=-1)


def rotate_y(vectors: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Rotate vectors [..., 3] about +y by `angle` (broadcast over the leading dims, right-handed)."""
    cos, sin = torch.cos(angle)[..., None], torch.sin(angle)[..., None]
    x, y, z = vectors[..., 0:1], vectors[..., 1:2], vectors[..., 2:3]
    return torch.cat([x * cos + z * sin, y, z * cos - x * sin], dim=-1)


def _yaw_matrix(angle: torch.Tensor) -> torch.Tensor:
    """Rotation matrices [..., 3, 3] about +y by `angle`."""
    cos, sin = torch.cos(angle), torch.sin(angle)
    zero, one = torch.zeros_like(angle), torch.ones_like(angle)
    return torch.stack([cos, zero, sin, zero, one, zero, -sin, zero, cos], dim=-1).reshape(*angle.shape, 3, 3)


def canonicalize(positions: Array) -> Array:
    """Feet on the floor (y=0), root x/z at the origin and facing +z at frame 0."""
    joints, was_numpy = to_tensor(positions)
    check_joints(joints, 1)
    floor = joints[..., 1].amin(dim=(-2, -1), keepdim=True)
    shifted = joints - torch.stack([joints[..., :1, :1, 0], floor, joints[..., :1, :1, 2]], dim=-1)
    heading = facing_angle(joints[..., :1, :, :])[..., None]
    return like_input(rotate_y(shifted, -heading), was_numpy)


def _bone_parents() -> tuple[list[int], list[int]]:
    """For joints 1..21: the chain predecessor of each joint, and the bone whose rotation precedes it (-1: root)."""
    previous_joint, previous_bone = [0] * NUM_JOINTS, [-1] * NUM_JOINTS
    for chain in KINEMATIC_CHAIN:
        for index in range(1, len(chain)):
            previous_joint[chain[index]] = chain[index - 1]
            previous_bone[chain[index]] = chain[index - 1] if index > 1 else -1
    return previous_joint[1:], previous_bone[1:]


PREVIOUS_JOINT, PREVIOUS_BONE = _bone_parents()


def chain_rotations(positions: torch.Tensor, heading: torch.Tensor) -> torch.Tensor:
    """HumanML3D's local rotations [..., T, 21, 3, 3] of joints 1..21 along the kinematic chains.

    Each bone's world rotation is the smallest turn from its rest direction to where it points; a joint's local
    rotation is that relative to the bone before it in its chain, or to the root rotation (the world-to-facing
    turn) for the first bone of a chain.
    """
    bones = positions[..., 1:, :] - positions[..., PREVIOUS_JOINT, :]
    rest = torch.tensor(REST_DIRECTIONS[1:], dtype=positions.dtype, device=positions.device).expand_as(bones)
    world = rotation_between(rest, bones)
    root = _yaw_matrix(-heading)[..., None, :, :]
    # Index b of [root, world of joints 1..21] is the world rotation of the bone ending at joint b.
    before = torch.cat([root, world], dim=-3)[..., [max(bone, 0) for bone in PREVIOUS_BONE], :, :]
    return before.transpose(-1, -2) @ world


def joints_to_features(positions: Array) -> Array:
    """263-dim HumanML3D features [..., T-1, 263] from joint positions [..., T, 22, 3] (metres, y up, 20 fps)."""
    joints, was_numpy = to_tensor(positions)
    check_joints(joints, 2)
    # Double precision inside: differences of large world coordinates lose millimetres in float32 over minutes.
    joints = joints.double()
    heading = root_heading(joints)
    yaw = -heading  # the root rotation (world -> facing frame) is a turn by -heading about y
    root = joints[..., 0, :]
    turn = torch.remainder(yaw[..., 1:] - yaw[..., :-1] + torch.pi, 2 * torch.pi) - torch.pi
    root_velocity = rotate_y(root[..., 1:, :] - root[..., :-1, :], yaw[..., 1:])
    local = joints - torch.stack([root[..., 0], torch.zeros_like(root[..., 0]), root[..., 2]], dim=-1)[..., None, :]
    local = rotate_y(local, yaw[..., None])
    velocity = rotate_y(joints[..., 1:, :, :] - joints[..., :-1, :, :], yaw[..., :-1, None])
    step = ((joints[..., 1:, :, :] - joints[..., :-1, :, :]) ** 2).sum(-1)
    contacts = (step[..., list(LEFT_FOOT_JOINTS) + list(RIGHT_FOOT_JOINTS)] < FOOT_VELOCITY_THRESHOLD).float()
    rotations = chain_rotations(joints[..., :-1, :, :], heading[..., :-1])
    # 6D: the first two columns of each rotation matrix, as HumanML3D's quaternion_to_cont6d.
    rotations_6d = torch.cat([rotations[..., 0], rotations[..., 1]], dim=-1)
    features = torch.cat([
        (turn / 2)[..., None], root_velocity[..., [0, 2]], root[..., :-1, 1:2],
        local[..., :-1, 1:, :].flatten(-2), rotations_6d.flatten(-2), velocity.flatten(-2), contacts,
    ], dim=-1)
    return like_input(features.float(), was_numpy)


def features_to_joints(features: Array) -> Array:
    """Joint positions [..., T, 22, 3] from features [..., T, 263] (MDM's recover_from_ric: starts at the origin facing +z)."""
    data, was_numpy = to_tensor(features)
    if data.shape[-1] != FEATURE_DIM or data.ndim < 2:
        raise ValueError(f"features must be shaped [..., T, {FEATURE_DIM}], got {tuple(data.shape)}")
    # Double precision inside: the root path is a running sum over every frame.
    data = data.double()
    # Twice the cumulative half-angle velocity: the yaw of each frame, 0 at the first.
    yaw = 2 * torch.cat([torch.zeros_like(data[..., :1, 0]), torch.cumsum(data[..., :-1, 0], dim=-1)], dim=-1)
    step = torch.zeros(*data.shape[:-1], 3, dtype=data.dtype, device=data.device)
    step[..., 1:, 0], step[..., 1:, 2] = data[..., :-1, 1], data[..., :-1, 2]
    root = torch.cumsum(rotate_y(step, -yaw), dim=-2)
    root[..., 1] = data[..., 3]
    local = data[..., POSITION_FEATURES].reshape(*data.shape[:-1], NUM_JOINTS - 1, 3)
    world = rotate_y(local, -yaw[..., None])
    world = world + torch.stack([root[..., 0], torch.zeros_like(root[..., 0]), root[..., 2]], dim=-1)[..., None, :]
    return like_input(torch.cat([root[..., None, :], world], dim=-2).float(), was_numpy)


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

        write_atomically(path, lambda temporary: save_file({"mean": self.mean.contiguous(), "std": self.std.contiguous()},
                                                           str(temporary)))

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
        missing = [name for name in ("mean", "std") if name not in tensors]
        if missing:
            raise ValueError(f"{path} holds no {' or '.join(missing)} tensor; a normalizer file has 'mean' and 'std'")
        return cls(tensors["mean"], tensors["std"])
