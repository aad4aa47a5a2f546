"""`syncmotion convert` between npy, json, bvh, glb and gltf; `render` reading them; refusals that write nothing."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from syncmotion.cli import main
from syncmotion.motion.gltf import save_gltf
from syncmotion.motion.io import load_motion, save_json, save_results_npy
from syncmotion.motion.types import Motion, Segment
from syncmotion_lab.corpus import sample_clip


def run(*arguments: str):
    """The command's result; a refusal is click's exit, never a traceback."""
    result = CliRunner().invoke(main, list(arguments))
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def motion(seed: int) -> Motion:
    """A corpus clip with millimetres of noise per joint (bone lengths vary, as in a model's output), two segments."""
    rng = np.random.default_rng(seed)
    positions = sample_clip(rng).positions
    positions = (positions + rng.normal(0, 0.004, positions.shape)).astype(np.float32)
    return Motion(positions, 20.0, [Segment("walk", 0, 20), Segment("wave", 20, len(positions))], [20], {"seed": seed})


def test_glb_to_json_gives_the_bvh_joints(tmp_path):
    original = motion(0)
    save_json(original, tmp_path / "motion.json")
    for target in ("motion.glb", "motion.bvh", "motion.gltf"):
        result = run("convert", str(tmp_path / "motion.json"), str(tmp_path / target))
        assert result.exit_code == 0 and f"wrote {tmp_path / target}" in result.output, result.output
    assert run("convert", str(tmp_path / "motion.glb"), str(tmp_path / "from_glb.json")).exit_code == 0
    from_glb, from_bvh = load_motion(tmp_path / "from_glb.json"), load_motion(tmp_path / "motion.bvh")
    # The JSON keeps 0.1 mm: well within the millimetre the GLB and the BVH must agree to.
    assert np.abs(from_glb.positions - from_bvh.positions).max() < 1e-3
    assert np.abs(load_motion(tmp_path / "motion.gltf").positions - from_glb.positions).max() < 1e-3
    assert from_glb.segments == original.segments and from_glb.seams == [20] and from_glb.meta == {"seed": 0}
    rigid_cost = np.linalg.norm(from_glb.positions - original.positions, axis=-1)
    assert rigid_cost.mean() < 0.01


def test_samples_of_a_results_npy(tmp_path):
    save_results_npy([motion(1), motion(2)], tmp_path / "results.npy")
    result = run("convert", str(tmp_path / "results.npy"), str(tmp_path / "out" / "m.glb"))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["m_00.glb", "m_01.glb"]
    assert run("convert", str(tmp_path / "results.npy"), str(tmp_path / "one.bvh"), "--index", "1").exit_code == 0
    np.testing.assert_allclose(load_motion(tmp_path / "one.bvh").positions, load_motion(tmp_path / "out" / "m_01.glb").positions,
                               atol=1e-4)
    assert run("convert", str(tmp_path / "out" / "m_00.glb"), str(tmp_path / "back.npy")).exit_code == 0
    assert load_motion(tmp_path / "back.npy")[0].segments[1].text == "wave"


def test_render_reads_glb(tmp_path):
    save_gltf(motion(3), tmp_path / "m.glb")
    result = run("render", str(tmp_path / "m.glb"), "--out", str(tmp_path / "m.png"))
    assert result.exit_code == 0 and (tmp_path / "m.png").stat().st_size > 1000, result.output


@pytest.mark.parametrize("source, target, message, code", [
    ("m.json", "m.fbx", "TARGET m.fbx: choose a .json, .npy, .bvh, .glb, .gltf file name", 2),
    ("m.json", "m.mp4", "(videos and filmstrips: syncmotion render)", 2),
    ("m.fbx", "m.glb", "unknown motion file type '.fbx'", 1),
    ("missing.json", "m.glb", "no motion file at", 1),
    ("garbage.glb", "m.json", "is not a glTF motion of the 22-joint skeleton", 1),
    ("garbage.bvh", "m.json", "is not a BVH motion of the 22-joint skeleton", 1),
    ("m.json", "m.json/inside.glb", "is a file, not a folder", 1),
], ids=["unknown-target", "video-target", "unknown-source", "missing", "garbage-glb", "garbage-bvh", "file-as-folder"])
def test_refusals_write_nothing(tmp_path, source, target, message, code):
    save_json(motion(4), tmp_path / "m.json")
    (tmp_path / "m.fbx").write_bytes(b"Kaydara FBX Binary")
    (tmp_path / "garbage.glb").write_bytes(b"glTF\x02\x00\x00\x00garbage")
    (tmp_path / "garbage.bvh").write_text("HIERARCHY\nROOT pelvis\n{\n")
    before = sorted(p.name for p in tmp_path.iterdir())
    result = run("convert", str(tmp_path / source), str(tmp_path / target))
    assert result.exit_code == code
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and message in errors[0], result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == before
