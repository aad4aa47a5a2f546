"""Inverse kinematics: forward kinematics of the solved rotations gives the joints back."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from syncmotion.motion.ik import joint_rotations, rotation_between, solve_rotations
from syncmotion.motion.skeleton import forward_kinematics
from syncmotion_lab.corpus import sample_clip


@pytest.fixture(scope="module")
def clips():
    rng = np.random.default_rng(11)
    return [sample_clip(rng) for _ in range(8)]


def test_forward_kinematics_of_the_rotations_rebuilds_the_joints(clips):
    for clip in clips:
        rotations, root, offsets = joint_rotations(clip.positions)
        assert isinstance(rotations, np.ndarray) and rotations.shape == (clip.positions.shape[0], 22, 3, 3)
        rebuilt = forward_kinematics(torch.from_numpy(rotations), torch.from_numpy(root), torch.from_numpy(offsets))
        np.testing.assert_allclose(rebuilt.numpy(), clip.positions, atol=1e-5, err_msg=clip.action)
        np.testing.assert_allclose(rotations @ rotations.swapaxes(-1, -2), np.broadcast_to(np.eye(3), rotations.shape), atol=1e-5)
        np.testing.assert_allclose(np.linalg.det(rotations), 1, atol=1e-5)


def test_rest_pose_is_a_t_pose_with_the_motion_bone_lengths(clips):
    positions = clips[0].positions
    _, _, offsets = joint_rotations(positions)
    rest = offsets.mean(axis=0)
    lengths = np.linalg.norm(positions[:, 18] - positions[:, 16], axis=-1).mean()
    np.testing.assert_allclose(rest[18], [lengths, 0, 0], atol=1e-5)  # left upper arm straight out to the left
    assert rest[19][0] < 0 and rest[4][1] < 0 and rest[6][1] > 0 and rest[10][2] > 0  # right arm, legs, spine, feet
    assert rest[1][0] > 0 > rest[2][0]  # hips: left is +x
    # Only the children of the pelvis and of spine3 follow the motion in the offsets.
    still = [j for j in range(22) if j not in (1, 2, 3, 12, 13, 14)]
    assert np.abs(offsets[:, still] - offsets[:1, still]).max() < 1e-6


def test_batched_torch_matches_single_numpy(clips):
    length = min(len(clip.positions) for clip in clips[:3])
    batch = torch.from_numpy(np.stack([clip.positions[:length] for clip in clips[:3]]))
    rotations, root, offsets = joint_rotations(batch)
    assert isinstance(rotations, torch.Tensor) and rotations.shape == (3, length, 22, 3, 3)
    single = joint_rotations(clips[1].positions[:length])
    np.testing.assert_allclose(rotations[1].numpy(), single[0], atol=1e-5)
    np.testing.assert_allclose(offsets[1].numpy(), single[2], atol=1e-6)


def test_foreign_rest_offsets_still_point_every_one_child_bone(clips):
    """With another skeleton's rest pose (as for SMPL), bones of one-child joints point where the motion's do."""
    positions = torch.from_numpy(clips[2].positions)
    _, _, offsets = joint_rotations(positions)
    foreign = offsets.mean(dim=0) * 1.1 + 0.01 * torch.randn(22, 3, generator=torch.Generator().manual_seed(0))
    rebuilt = forward_kinematics(solve_rotations(positions, foreign), positions[:, 0], foreign)
    for joint in (4, 7, 10, 18, 20, 15):
        parent = {4: 1, 7: 4, 10: 7, 18: 16, 20: 18, 15: 12}[joint]
        got = torch.nn.functional.normalize(rebuilt[:, joint] - rebuilt[:, parent], dim=-1)
        want = torch.nn.functional.normalize(positions[:, joint] - positions[:, parent], dim=-1)
        assert (got - want).abs().max() < 1e-4, joint


def test_rotation_between_handles_opposite_directions():
    source = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 2.0]])
    target = -source
    rotation = rotation_between(source, target)
    torch.testing.assert_close((rotation @ source[..., None])[..., 0], target, atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.linalg.det(rotation), torch.ones(3), atol=1e-5, rtol=0)


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match=r"\[\.\.\., T, 22, 3\]"):
        joint_rotations(np.zeros((5, 24, 3)))
