"""SMPL export through smplx, with a tiny synthetic SMPL model written by the test."""

from __future__ import annotations

import json
import pickle
import sys
import types

import numpy as np
import pytest
import scipy.sparse
import torch
from click.testing import CliRunner

from syncmotion.cli import main
from syncmotion.motion.ik import joint_rotations
from syncmotion.motion.skeleton import PARENTS, forward_kinematics
from syncmotion.motion.smpl import fit_smpl, load_smpl, save_smpl, smpl_joints
from syncmotion.motion.types import Motion
from syncmotion_lab.corpus import sample_clip

SMPL_PARENTS = list(PARENTS) + [20, 21]
CORNERS = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=np.float32) * 0.01


def tiny_smpl_fields(rest_joints: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
    """An SMPL-format model: four vertices around each of the 24 rest joints, regressed back to the joint."""
    rng = np.random.default_rng(seed)
    vertices = (rest_joints[:, None, :] + CORNERS).reshape(-1, 3)
    regressor = np.kron(np.eye(24), np.full((1, 4), 0.25))
    weights = np.kron(np.eye(24), np.ones((4, 1)))
    kintree = np.array([[4294967295] + SMPL_PARENTS[1:], list(range(24))], dtype=np.int64)
    return {
        "v_template": vertices, "shapedirs": rng.normal(0, 0.01, (96, 3, 10)), "posedirs": np.zeros((96, 3, 207)),
        "J_regressor": regressor, "weights": weights, "kintree_table": kintree,
        "f": rng.integers(0, 96, (40, 3)).astype(np.int64),
    }


def t_pose_joints(positions: np.ndarray) -> np.ndarray:
    """The motion's own T-pose (22 joints) plus SMPL's two hand joints beyond the wrists: [24, 3]."""
    _, _, offsets = joint_rotations(positions)
    rest = offsets.mean(axis=0)
    joints = forward_kinematics(torch.eye(3).expand(22, 3, 3), torch.tensor([0.0, 0.9, 0.0]), torch.from_numpy(rest)).numpy()
    return np.concatenate([joints, joints[20:22] + [[0.08, 0, 0], [-0.08, 0, 0]]]).astype(np.float32)


@pytest.fixture(scope="module")
def clip():
    return sample_clip(np.random.default_rng(21))


def _error(params: dict[str, np.ndarray], model_path, positions: np.ndarray) -> float:
    model = load_smpl(model_path)
    joints = smpl_joints(model, {name: torch.from_numpy(value) for name, value in params.items()})
    return float(np.linalg.norm(joints[:, :22].detach().numpy() - positions, axis=-1).mean())


def test_ik_start_on_a_matching_skeleton_is_close(tmp_path, clip):
    path = tmp_path / "SMPL_NEUTRAL.npz"
    np.savez(path, **tiny_smpl_fields(t_pose_joints(clip.positions)))
    params = fit_smpl(Motion(positions=clip.positions), path, steps=0)
    frames = len(clip.positions)
    assert params["global_orient"].shape == (frames, 3) and params["body_pose"].shape == (frames, 69)
    assert params["transl"].shape == (frames, 3) and params["betas"].shape == (10,)
    assert _error(params, path, clip.positions) < 0.005


def test_optimizer_steps_fit_a_different_body(tmp_path, clip):
    rest = t_pose_joints(clip.positions)
    rest = rest * 1.08 + np.random.default_rng(1).normal(0, 0.01, rest.shape).astype(np.float32)
    path = tmp_path / "model.npz"
    np.savez(path, **tiny_smpl_fields(rest))
    positions = clip.positions[:40]
    start = _error(fit_smpl(Motion(positions=positions), path, steps=0), path, positions)
    refined = _error(fit_smpl(Motion(positions=positions), path, steps=40), path, positions)
    assert refined < 0.8 * start and refined < 0.03, (start, refined)


def test_save_smpl_from_a_pickled_model_folder(tmp_path, clip):
    with open(tmp_path / "SMPL_NEUTRAL.pkl", "wb") as file:
        pickle.dump(tiny_smpl_fields(t_pose_joints(clip.positions)), file)
    [out] = save_smpl(Motion(positions=clip.positions[:20], fps=20.0), tmp_path, tmp_path / "motion_smpl.npz", steps=2)
    with np.load(out) as saved:
        assert {"global_orient", "body_pose", "transl", "betas", "fps", "gender"} <= set(saved.files)
        assert saved["body_pose"].shape == (20, 69) and float(saved["fps"]) == 20.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["SMPL_NEUTRAL.pkl", "motion_smpl.npz"]


def test_amass_npz_is_the_same_body_in_amass_axes(tmp_path, clip):
    path = tmp_path / "SMPL_NEUTRAL.npz"
    np.savez(path, **tiny_smpl_fields(t_pose_joints(clip.positions), seed=3))
    motion = Motion(positions=clip.positions[:30], fps=30.0)
    smpl_file, amass_file = save_smpl(motion, path, tmp_path / "m_smpl.npz", steps=5, amass_path=tmp_path / "m_amass.npz")
    with np.load(smpl_file) as fitted, np.load(amass_file) as amass:  # no pickles: AMASS's readers use allow_pickle too
        assert set(amass.files) == {"poses", "trans", "betas", "gender", "mocap_framerate", "dmpls"}
        assert amass["poses"].shape == (30, 156) and amass["trans"].shape == (30, 3) and amass["dmpls"].shape == (30, 8)
        assert amass["betas"].shape == (16,) and str(amass["gender"]) == "neutral" and float(amass["mocap_framerate"]) == 30.0
        assert not amass["poses"][:, 66:].any()  # SMPL-H's hands stay at rest
        np.testing.assert_allclose(amass["poses"][:, 3:66], fitted["body_pose"][:, :63], atol=1e-6)
        model = load_smpl(path)
        ours = smpl_joints(model, {name: torch.from_numpy(fitted[name]) for name in ("global_orient", "body_pose", "transl", "betas")})
        body_pose = np.concatenate([amass["poses"][:, 3:66], np.zeros((30, 6))], axis=1)
        theirs = smpl_joints(model, {"global_orient": torch.tensor(amass["poses"][:, :3], dtype=torch.float32),
                                     "body_pose": torch.tensor(body_pose, dtype=torch.float32),
                                     "transl": torch.tensor(amass["trans"], dtype=torch.float32),
                                     "betas": torch.tensor(amass["betas"][:10], dtype=torch.float32)})
    # HumanML3D's preprocessing turns AMASS's z-up joints into its y-up frame with (x, y, z) -> (-x, z, y).
    theirs = theirs.detach().numpy()
    np.testing.assert_allclose(np.stack([-theirs[..., 0], theirs[..., 2], theirs[..., 1]], axis=-1), ours.detach().numpy(), atol=1e-5)
    assert np.abs(theirs[..., 2]).mean() > 0.3  # z is up in AMASS: the body stands along z


def test_motion_command_writes_both_smpl_files(tmp_path, tiny_embedded, clip):
    np.savez(tmp_path / "SMPL_NEUTRAL.npz", **tiny_smpl_fields(t_pose_joints(clip.positions)))
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["motion", "--text", "walk", "--seconds", "2", "--steps", "2", "--model", str(tiny_embedded),
                                       "--formats", "json", "--smpl", str(tmp_path / "SMPL_NEUTRAL.npz"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "syncmotion-run.json").read_text())
    assert sorted(entry["name"] for entry in manifest["files"]) == ["motion.json", "motion_amass.npz", "motion_smpl.npz"]
    with np.load(out / "motion_amass.npz") as amass:
        assert amass["poses"].shape == (40, 156) and float(amass["mocap_framerate"]) == 20.0


def fake_chumpy_class() -> type:
    """A class whose objects pickle like chumpy.ch.Ch's: the class under that name, a state dict with the value in 'x'."""
    class Ch:
        def __init__(self, value: np.ndarray) -> None:
            self.x = value
            self._dirty_vars = set()
            self._itr = None
            self._make_dense = False
            self._make_sparse = False

    Ch.__module__, Ch.__qualname__ = "chumpy.ch", "Ch"
    return Ch


def test_smpl_pickle_with_chumpy_arrays_and_a_sparse_regressor_loads(tmp_path, clip, monkeypatch):
    fields = tiny_smpl_fields(t_pose_joints(clip.positions))
    chumpy_array = fake_chumpy_class()
    pickled = {**fields, "shapedirs": chumpy_array(fields["shapedirs"]), "v_template": chumpy_array(fields["v_template"]),
               "J_regressor": scipy.sparse.csc_matrix(fields["J_regressor"]), "bs_style": "lbs"}
    with monkeypatch.context() as patch:
        # Only while pickling: pickle checks that chumpy.ch.Ch names the class; loading must not need chumpy.
        package, module = types.ModuleType("chumpy"), types.ModuleType("chumpy.ch")
        module.Ch = chumpy_array
        patch.setitem(sys.modules, "chumpy", package)
        patch.setitem(sys.modules, "chumpy.ch", module)
        with open(tmp_path / "SMPL_NEUTRAL.pkl", "wb") as file:
            pickle.dump(pickled, file, protocol=2)  # Python 2's newest protocol, which SMPL's files use
    content = (tmp_path / "SMPL_NEUTRAL.pkl").read_bytes()
    assert b"chumpy.ch\nCh" in content and b"csc_matrix" in content
    model = load_smpl(tmp_path)
    assert "chumpy" not in sys.modules
    np.testing.assert_allclose(model.J_regressor.numpy(), fields["J_regressor"], rtol=1e-6)
    np.testing.assert_allclose(model.shapedirs.numpy(), fields["shapedirs"], rtol=1e-6)
    np.testing.assert_allclose(model.v_template.numpy(), fields["v_template"], rtol=1e-6)


def test_missing_model_and_missing_smplx_are_named(tmp_path, clip, monkeypatch):
    motion = Motion(positions=clip.positions[:5])
    with pytest.raises(FileNotFoundError, match="nowhere.pkl"):
        fit_smpl(motion, tmp_path / "nowhere.pkl")
    with pytest.raises(FileNotFoundError, match="SMPL_NEUTRAL.npz"):
        fit_smpl(motion, tmp_path)
    np.savez(tmp_path / "broken.npz", v_template=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="lacks"):
        fit_smpl(motion, tmp_path / "broken.npz")
    broken = clip.positions[:5].copy()
    broken[2, 3, 0] = np.inf
    with pytest.raises(ValueError, match="NaN or infinite"):
        fit_smpl(Motion(positions=broken), tmp_path / "broken.npz")
    monkeypatch.setitem(sys.modules, "smplx", None)
    with pytest.raises(ImportError, match=r"pip install syncmotion\[smpl\]"):
        fit_smpl(motion, tmp_path / "broken.npz")
