"""HumanML3D features: round trip, layout, batching, numpy/torch, normalizer."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from scipy.ndimage import gaussian_filter1d

from syncmotion.motion.features import (
    FEATURE_DIM, Normalizer, canonicalize, facing_angle, features_to_joints, joints_to_features, root_heading,
)
from syncmotion.motion.skeleton import KINEMATIC_CHAIN, REST_DIRECTIONS
from syncmotion_lab.corpus import generate_clip, sample_clip


@pytest.fixture(scope="module")
def clips():
    rng = np.random.default_rng(7)
    return [sample_clip(rng) for _ in range(12)]


def test_round_trip_within_a_tenth_of_a_millimetre(clips):
    for clip in clips:
        joints = canonicalize(clip.positions)
        recovered = features_to_joints(joints_to_features(joints))
        assert recovered.shape == (len(joints) - 1, 22, 3)
        assert np.abs(recovered - joints[:-1]).max() < 1e-4, clip.action


def test_canonical_pose_is_on_the_floor_at_the_origin_facing_z(clips):
    rng = np.random.default_rng(0)
    turned = clips[0].positions @ np.array([[0, 0, -1], [0, 1, 0], [1, 0, 0]], dtype=np.float32).T + [3, 0.5, -2]
    joints = canonicalize(turned)
    assert abs(joints[..., 1].min()) < 1e-6
    np.testing.assert_allclose(joints[0, 0, [0, 2]], 0, atol=1e-6)
    assert abs(float(facing_angle(torch.from_numpy(joints[:1]))[0])) < 1e-5
    walk = canonicalize(generate_clip("walk", None, rng).positions)
    assert walk[-1, 0, 2] > 1.0  # walking forward goes along +z


ROTATION_DIMS = slice(67, 193)


def test_features_other_than_rotations_do_not_depend_on_where_the_motion_happens(clips):
    joints = clips[1].positions
    angle = 0.7
    rotation = np.array([[np.cos(angle), 0, np.sin(angle)], [0, 1, 0], [-np.sin(angle), 0, np.cos(angle)]], dtype=np.float32)
    moved = joints @ rotation.T + np.array([5.0, 0.0, -3.0], dtype=np.float32)
    keep = np.r_[0:67, 193:FEATURE_DIM]
    np.testing.assert_allclose(joints_to_features(moved)[:, keep], joints_to_features(joints)[:, keep], atol=1e-4)


def test_root_heading_is_humanml3d_smoothed_ik_facing(clips):
    """HumanML3D's inverse_kinematics_np: hips left-minus-right plus shoulders right-minus-left, smoothed (sigma 20)."""
    joints = clips[3].positions
    across = joints[:, 1] - joints[:, 2] + joints[:, 17] - joints[:, 16]
    across /= np.linalg.norm(across, axis=-1, keepdims=True)
    forward = gaussian_filter1d(np.cross([0.0, 1.0, 0.0], across), 20, axis=0, mode="nearest")
    heading = root_heading(torch.from_numpy(joints)).numpy()
    np.testing.assert_allclose(heading[1:], np.arctan2(forward[1:, 0], forward[1:, 2]), atol=1e-4)
    assert heading[0] == pytest.approx(float(facing_angle(torch.from_numpy(joints[:1]))[0]), abs=1e-6)
    turn = joints_to_features(joints)[:, 0]
    np.testing.assert_allclose(turn, np.diff(heading) / -2, atol=1e-5)


def _matrices_from_6d(six: np.ndarray) -> np.ndarray:
    first, second = six[..., :3], six[..., 3:]
    return np.stack([first, second, np.cross(first, second)], axis=-1)


def test_rotation_features_pose_the_humanml3d_chains(clips):
    """Forward kinematics along the chains, as HumanML3D's forward_kinematics_cont6d, rebuilds the joints."""
    for clip in clips[:4]:
        joints = canonicalize(clip.positions)
        features = joints_to_features(joints)
        local = _matrices_from_6d(features[:, ROTATION_DIMS].reshape(-1, 21, 6))
        yaw = -root_heading(torch.from_numpy(joints)).numpy()[:-1]
        root = np.zeros((len(yaw), 3, 3), dtype=np.float32)
        root[:, 0, 0] = root[:, 2, 2] = np.cos(yaw)
        root[:, 0, 2], root[:, 2, 0], root[:, 1, 1] = np.sin(yaw), -np.sin(yaw), 1
        rebuilt = np.zeros_like(joints[:-1])
        rebuilt[:, 0] = joints[:-1, 0]
        for chain in KINEMATIC_CHAIN:
            world = root
            for previous, joint in zip(chain, chain[1:]):
                world = world @ local[:, joint - 1]
                length = np.linalg.norm(joints[:-1, joint] - joints[:-1, previous], axis=-1, keepdims=True)
                rest = np.asarray(REST_DIRECTIONS[joint], dtype=np.float32)
                rebuilt[:, joint] = rebuilt[:, previous] + (world @ rest) * length
        np.testing.assert_allclose(rebuilt, joints[:-1], atol=1e-4, err_msg=clip.action)


def test_layout_of_the_263_vector(clips):
    joints = canonicalize(clips[2].positions)
    features = joints_to_features(joints)
    assert features.shape[-1] == FEATURE_DIM
    np.testing.assert_allclose(features[:, 3], joints[:-1, 0, 1], atol=1e-6)  # root height
    contacts = features[:, -4:]
    assert set(np.unique(contacts)) <= {0.0, 1.0}
    rotations = features[:, 67:193].reshape(-1, 21, 6)
    np.testing.assert_allclose(np.linalg.norm(rotations[..., :3], axis=-1), 1, atol=1e-5)  # columns of a rotation
    np.testing.assert_allclose((rotations[..., :3] * rotations[..., 3:]).sum(-1), 0, atol=1e-5)


def test_batched_torch_equals_single_numpy(clips):
    length = min(len(c.positions) for c in clips[:3])
    batch = np.stack([canonicalize(c.positions[:length]) for c in clips[:3]])
    batched = joints_to_features(torch.from_numpy(batch))
    assert isinstance(batched, torch.Tensor) and batched.shape == (3, length - 1, FEATURE_DIM)
    for index in range(3):
        np.testing.assert_allclose(batched[index].numpy(), joints_to_features(batch[index]), atol=1e-6)
    assert isinstance(features_to_joints(batched), torch.Tensor)


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match=r"\[\.\.\., T, 22, 3\]"):
        joints_to_features(np.zeros((10, 21, 3)))
    with pytest.raises(ValueError, match="at least 2 frames"):
        joints_to_features(np.zeros((1, 22, 3)))
    with pytest.raises(ValueError, match="263"):
        features_to_joints(np.zeros((10, 251)))


def test_normalizer_round_trip_and_files(tmp_path):
    mean, std = torch.randn(FEATURE_DIM), torch.rand(FEATURE_DIM) + 0.5
    normalizer = Normalizer(mean, std)
    x = torch.randn(4, 10, FEATURE_DIM)
    torch.testing.assert_close(normalizer.denormalize(normalizer.normalize(x)), x)
    normalizer.save(tmp_path / "norm.safetensors")
    torch.testing.assert_close(Normalizer.load(tmp_path / "norm.safetensors").std, std)
    np.save(tmp_path / "Mean.npy", mean.numpy())
    with pytest.raises(FileNotFoundError, match="Std.npy"):
        Normalizer.load(tmp_path)
    np.save(tmp_path / "Std.npy", std.numpy())
    torch.testing.assert_close(Normalizer.load(tmp_path).mean, mean)
    save_file({"mean": mean}, str(tmp_path / "half.safetensors"))
    with pytest.raises(ValueError, match="no std"):
        Normalizer.load(tmp_path / "half.safetensors")
    with pytest.raises(ValueError, match="positive std"):
        Normalizer(mean, torch.zeros(FEATURE_DIM))
