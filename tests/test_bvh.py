"""BVH files: bvhio reads our export back to the same joint positions, and so does our own reader."""

from __future__ import annotations

import bvhio
import numpy as np
import pytest

from syncmotion.motion.bvh import euler_zyx_degrees, load_bvh, save_bvh
from syncmotion.motion.io import load_motion
from syncmotion.motion.skeleton import JOINT_NAMES
from syncmotion.motion.types import Motion
from syncmotion_lab.corpus import generate_clip, sample_clip


def _world_positions(path) -> tuple[np.ndarray, bvhio.BvhContainer]:
    """World joint positions [T, 22, 3] (in JOINT_NAMES order) computed by bvhio from the file."""
    container = bvhio.readAsBvh(str(path))
    root = bvhio.readAsHierarchy(str(path))
    joints = {joint.Name: joint for joint, _, _ in root.layout()}
    positions = np.zeros((container.FrameCount, len(joints), 3))
    for frame in range(container.FrameCount):
        root.loadPose(frame)
        for index, name in enumerate(JOINT_NAMES):
            positions[frame, index] = tuple(joints[name].PositionWorld)
    return positions, container


def test_euler_angles_are_scipys():
    from scipy.spatial.transform import Rotation

    rotations = Rotation.random(2000, random_state=0)
    # Also the poles (Y at ±90°, gimbal lock) and turns about one axis, which exports of real motion are full of.
    angles = np.array([[30.0, 90.0, 0.0], [-120.0, -90.0, 0.0], [0.0, 0.0, 179.0], [45.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    matrices = np.concatenate([rotations.as_matrix(), Rotation.from_euler("ZYX", angles, degrees=True).as_matrix()])
    ours = euler_zyx_degrees(matrices.reshape(-1, 5, 3, 3)).reshape(-1, 3)
    with pytest.warns(UserWarning, match="Gimbal lock"):  # scipy's own word that the poles are in the test
        theirs = Rotation.from_matrix(matrices).as_euler("ZYX", degrees=True)
    np.testing.assert_allclose(ours, theirs, atol=1e-8)
    np.testing.assert_allclose(ours[-5:], angles, atol=1e-8)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bvh_reads_back_to_the_same_joints(tmp_path, seed):
    clip = sample_clip(np.random.default_rng(seed))
    path = save_bvh(Motion(positions=clip.positions, fps=20.0), tmp_path / "motion.bvh")
    positions, container = _world_positions(path)
    assert container.FrameCount == len(clip.positions)
    assert container.FrameTime == pytest.approx(0.05)
    names = [joint.Name for joint, _, _ in container.Root.layout()]
    assert names[0] == "pelvis" and len(names) == 22 and set(names) == set(JOINT_NAMES)
    np.testing.assert_allclose(positions, clip.positions, atol=1e-3, err_msg=clip.action)
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_rest_pose_is_a_t_pose(tmp_path):
    clip = generate_clip("walk", None, np.random.default_rng(4))
    path = save_bvh(Motion(positions=clip.positions), tmp_path / "walk.bvh")
    offsets = {joint.Name: np.array(tuple(joint.Offset)) for joint, _, _ in bvhio.readAsBvh(str(path)).Root.layout()}
    for name, axis, sign in [("left_elbow", 0, 1), ("right_elbow", 0, -1), ("left_wrist", 0, 1), ("left_knee", 1, -1),
                             ("right_ankle", 1, -1), ("spine2", 1, 1), ("head", 1, 1), ("left_foot", 2, 1)]:
        direction = offsets[name] / np.linalg.norm(offsets[name])
        assert direction[axis] == pytest.approx(sign, abs=1e-6), name


def test_frame_time_follows_fps(tmp_path):
    clip = sample_clip(np.random.default_rng(5))
    path = save_bvh(Motion(positions=clip.positions[:10], fps=30.0), tmp_path / "m.bvh")
    assert bvhio.readAsBvh(str(path)).FrameTime == pytest.approx(1 / 30)


def test_bad_motion_is_refused_without_writing(tmp_path):
    with pytest.raises(ValueError, match=r"\[T, 22, 3\]"):
        save_bvh(Motion(positions=np.zeros((4, 21, 3), dtype=np.float32)), tmp_path / "bad.bvh")
    with pytest.raises(ValueError, match="fps"):
        save_bvh(Motion(positions=np.zeros((4, 22, 3), dtype=np.float32), fps=0.0), tmp_path / "bad.bvh")
    broken = sample_clip(np.random.default_rng(6)).positions.copy()
    broken[3, 5, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        save_bvh(Motion(positions=broken), tmp_path / "bad.bvh")
    assert not any(tmp_path.iterdir())


def test_our_reader_agrees_with_bvhio(tmp_path):
    clip = sample_clip(np.random.default_rng(7))
    path = save_bvh(Motion(positions=clip.positions, fps=30.0), tmp_path / "motion.bvh")
    positions, _ = _world_positions(path)
    loaded = load_motion(path)
    assert loaded.fps == 30.0 and loaded.num_frames == len(clip.positions)
    np.testing.assert_allclose(loaded.positions, positions, atol=1e-5)


def _spoil(tmp_path, old: str, new: str):
    text = save_bvh(Motion(positions=sample_clip(np.random.default_rng(8)).positions), tmp_path / "good.bvh").read_text()
    assert old in text
    path = tmp_path / "spoilt.bvh"
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize("old, new, message", [
    ("\nMOTION\n", "\n", "no MOTION section"),
    ("ROOT pelvis", "ROOT hips", "not the 22 of the HumanML3D skeleton"),
    ("Frame Time: 0.05000000", "Frame Time: 0", "not a plausible number of seconds"),
    ("Frame Time: 0.05000000", "Frame Time: fast", "not a plausible number|could not convert"),
    ("Zrotation Yrotation Xrotation", "Zrotation Yrotation Wrotation", "unknown channel 'Wrotation'"),
    ("Zrotation Yrotation Xrotation", "Zrotation Zrotation Xrotation", "rotates about one axis twice"),
    ("HIERARCHY", "HIERARCHY }", "unexpected '}'"),
], ids=["no-motion", "renamed", "zero-frame-time", "word-frame-time", "unknown-channel", "twice", "stray-brace"])
def test_foreign_or_damaged_bvh_is_explained(tmp_path, old, new, message):
    with pytest.raises(ValueError, match=message):
        load_bvh(_spoil(tmp_path, old, new))


def test_a_file_cut_short_is_refused_at_once(tmp_path):
    # bvhio waits forever for the frames such a file declares; ours counts the values.
    path = save_bvh(Motion(positions=sample_clip(np.random.default_rng(9)).positions), tmp_path / "motion.bvh")
    path.write_text("\n".join(path.read_text().splitlines()[:-3]) + "\n")
    with pytest.raises(ValueError, match=r"declares \d+ frames of 87 channels but holds"):
        load_bvh(path)
    path.write_bytes(b"\xff\xfe HIERARCHY")
    with pytest.raises(ValueError, match="not a BVH file"):
        load_bvh(path)
