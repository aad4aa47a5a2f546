"""Inverse kinematics on the 22-joint skeleton: local joint rotations that forward kinematics turns back into positions.

Convention of `skeleton.forward_kinematics`: a joint's rotation turns the offsets of its children, so a joint with
one child gets the smallest turn (relative to its parent) that points its rest offset along the bone, and the two
joints with several children (pelvis, spine3) get the turn of the frame their children span.
"""

from __future__ import annotations

import numpy as np
import torch

from .arrays import check_joints, like_input, to_tensor
from .skeleton import NUM_JOINTS, PARENTS

CHILDREN: tuple[tuple[int, ...], ...] = tuple(
    tuple(child for child in range(NUM_JOINTS) if PARENTS[child] == joint) for joint in range(NUM_JOINTS))
# The joints with several children, and the children that span their frame: (left, right, upward).
BRANCH_FRAMES: dict[int, tuple[int, int, int]] = {0: (1, 2, 3), 9: (13, 14, 12)}

_DOWN, _UP, _FORWARD, _LEFT, _RIGHT = (0, -1, 0), (0, 1, 0), (0, 0, 1), (1, 0, 0), (-1, 0, 0)
# Rest (T-pose) directions of the bones that end at each child of a one-child joint: y up, z forward, +x the
# body's left; legs and spine straight, feet forward, arms straight out to the sides.
T_POSE_DIRECTIONS: dict[int, tuple[int, int, int]] = {
    4: _DOWN, 5: _DOWN, 6: _UP, 7: _DOWN, 8: _DOWN, 9: _UP, 10: _FORWARD, 11: _FORWARD, 15: _UP,
    16: _LEFT, 17: _RIGHT, 18: _LEFT, 19: _RIGHT, 20: _LEFT, 21: _RIGHT,
}


def rotation_between(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The smallest rotation matrices [..., 3, 3] turning the directions `source` [..., 3] into `target` [..., 3]."""
    source = torch.nn.functional.normalize(source, dim=-1)
    target = torch.nn.functional.normalize(target, dim=-1)
    axis = torch.cross(source, target, dim=-1)
    cos = (source * target).sum(-1)
    # Opposite directions: half a turn about any axis perpendicular to the source.
    x_axis = torch.tensor([1.0, 0.0, 0.0], dtype=source.dtype, device=source.device).expand_as(source)
    z_axis = torch.tensor([0.0, 0.0, 1.0], dtype=source.dtype, device=source.device).expand_as(source)
    perpendicular = torch.cross(source, z_axis, dim=-1)
    perpendicular = torch.where(perpendicular.norm(dim=-1, keepdim=True) < 1e-6,
                                torch.cross(source, x_axis, dim=-1), perpendicular)
    quaternion = torch.cat([(1 + cos)[..., None], axis], dim=-1)
    half_turn = torch.cat([torch.zeros_like(cos)[..., None], perpendicular], dim=-1)
    quaternion = torch.where((cos < -1 + 1e-6)[..., None], half_turn, quaternion)
    w, x, y, z = torch.nn.functional.normalize(quaternion, dim=-1).unbind(-1)
    return torch.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
        2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
        2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y),
    ], dim=-1).reshape(*w.shape, 3, 3)


def _frame(left: torch.Tensor, right: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
    """Orthonormal frames [..., 3, 3] (columns: across to the left, up, forward) from three child offsets."""
    across = torch.nn.functional.normalize(left - right, dim=-1)
    upward = torch.nn.functional.normalize(up - (up * across).sum(-1, keepdim=True) * across, dim=-1)
    return torch.stack([across, upward, torch.cross(across, upward, dim=-1)], dim=-1)


def solve_rotations(positions: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """Local rotations [..., T, 22, 3, 3] posing a skeleton with rest `offsets` [..., 22, 3] like `positions` [..., T, 22, 3].

    Exact (up to bone lengths) when the children of the pelvis and of spine3 sit in the offsets as in the positions.
    """
    identity = torch.eye(3, dtype=positions.dtype, device=positions.device).expand(*positions.shape[:-2], 3, 3)
    offsets = offsets.to(positions.dtype)
    world: list[torch.Tensor] = []
    local: list[torch.Tensor] = []
    for joint in range(NUM_JOINTS):
        parent_world = world[PARENTS[joint]] if joint > 0 else identity
        children = CHILDREN[joint]
        if joint in BRANCH_FRAMES:
            left, right, up = BRANCH_FRAMES[joint]
            bones = positions[..., [left, right, up], :] - positions[..., joint:joint + 1, :]
            rest = offsets[..., [left, right, up], :].expand_as(bones)
            turn = _frame(*bones.unbind(-2)) @ _frame(*rest.unbind(-2)).transpose(-1, -2)
            rotation = parent_world.transpose(-1, -2) @ turn
        elif children:
            bone = positions[..., children[0], :] - positions[..., joint, :]
            in_parent = (parent_world.transpose(-1, -2) @ bone[..., None])[..., 0]
            rotation = rotation_between(offsets[..., children[0], :].expand_as(in_parent), in_parent)
        else:
            rotation = identity
        local.append(rotation)
        world.append(parent_world @ rotation)
    return torch.stack(local, dim=-3)


def joint_rotations(positions: np.ndarray | torch.Tensor) -> tuple[np.ndarray | torch.Tensor, ...]:
    """(local rotations [..., T, 22, 3, 3], root positions [..., T, 3], offsets [..., T, 22, 3]) from joint positions.

    The offsets are a T-pose with the motion's mean bone lengths; only the children of the pelvis and of spine3
    move in them (their place in the parent's frame, each frame), so that forward kinematics of the rotations with
    these offsets gives the positions back (up to each frame's deviation from the mean bone lengths).
    """
    joints, was_numpy = to_tensor(positions)
    check_joints(joints, 1)
    parents = [max(parent, 0) for parent in PARENTS]
    bones = joints - joints[..., parents, :]
    lengths = bones.norm(dim=-1).mean(dim=-2, keepdim=True)
    directions = torch.zeros(NUM_JOINTS, 3, dtype=joints.dtype, device=joints.device)
    for child, direction in T_POSE_DIRECTIONS.items():
        directions[child] = torch.tensor(direction, dtype=joints.dtype, device=joints.device)
    offsets = (directions * lengths[..., None]).expand_as(joints).clone()
    for joint, (left, right, up) in BRANCH_FRAMES.items():
        frame = _frame(bones[..., left, :], bones[..., right, :], bones[..., up, :])
        for child in CHILDREN[joint]:
            offsets[..., child, :] = (frame.transpose(-1, -2) @ bones[..., child, :, None])[..., 0]
    rotations = solve_rotations(joints, offsets)
    return tuple(like_input(part, was_numpy) for part in (rotations, joints[..., 0, :], offsets))
