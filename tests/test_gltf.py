"""glTF export and import: the same skeleton and rotations as the BVH, a valid skin, extras, refusals, the validator."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pygltflib
import pytest

from syncmotion.motion.bvh import save_bvh
from syncmotion.motion.gltf import load_gltf, save_gltf
from syncmotion.motion.io import load_motion
from syncmotion.motion.skeleton import JOINT_NAMES, PARENTS
from syncmotion.motion.types import Motion, Segment
from syncmotion_lab.corpus import sample_clip

VALIDATOR_SCRIPT = Path(__file__).parent / "js" / "validate_gltf.cjs"


def not_quite_rigid(seed: int) -> Motion:
    """A corpus clip with a few millimetres of noise on every joint: bone lengths vary as in a model's output."""
    rng = np.random.default_rng(seed)
    positions = sample_clip(rng).positions
    positions = (positions + rng.normal(0, 0.004, positions.shape)).astype(np.float32)
    half = len(positions) // 2
    return Motion(positions, 20.0, [Segment("a person walks", 0, half), Segment("a person waves", half, len(positions))],
                  [half], {"strategy": "syncsde", "inv_lambda": np.float32(5.0)})


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_glb_gives_the_joints_of_the_bvh(tmp_path, seed):
    motion = not_quite_rigid(seed)
    glb, bvh = save_gltf(motion, tmp_path / "m.glb"), save_bvh(motion, tmp_path / "m.bvh")
    from_glb, from_bvh = load_motion(glb), load_motion(bvh)
    assert from_glb.num_frames == motion.num_frames and from_glb.fps == from_bvh.fps == 20.0
    # Same rigid skeleton and rotations: the files differ only by their number formats (float32, 6 decimals).
    assert np.abs(from_glb.positions - from_bvh.positions).max() < 1e-4
    # Against the not-quite-rigid input the error is what a rigid skeleton costs: millimetres.
    error = np.linalg.norm(from_glb.positions - motion.positions, axis=-1)
    assert error.mean() < 0.01 and error.max() < 0.05
    assert from_glb.segments == motion.segments and from_glb.seams == motion.seams
    assert from_glb.meta == {"strategy": "syncsde", "inv_lambda": 5.0}


def test_gltf_holds_the_same_document_as_the_glb(tmp_path):
    motion = not_quite_rigid(3)
    glb, gltf = pygltflib.GLTF2.load(save_gltf(motion, tmp_path / "m.glb")), pygltflib.GLTF2.load(save_gltf(motion, tmp_path / "m.gltf"))
    assert gltf.buffers[0].uri.startswith("data:application/octet-stream;base64,")
    assert base64.b64decode(gltf.buffers[0].uri.split(",", 1)[1]) == glb.binary_blob()
    np.testing.assert_array_equal(load_gltf(tmp_path / "m.gltf").positions, load_gltf(tmp_path / "m.glb").positions)


def test_skin_rest_pose_and_animation(tmp_path):
    motion = Motion(not_quite_rigid(4).positions, fps=30.0)
    document = pygltflib.GLTF2.load(save_gltf(motion, tmp_path / "m.glb"))
    blob = document.binary_blob()

    def accessor(index: int) -> np.ndarray:
        view = document.bufferViews[document.accessors[index].bufferView]
        return np.frombuffer(blob, np.float32, count=view.byteLength // 4, offset=view.byteOffset)

    joints = document.nodes[:22]
    assert [node.name for node in joints] == list(JOINT_NAMES)
    assert all(child in joints[parent].children for child, parent in enumerate(PARENTS) if parent >= 0)
    skin = document.skins[0]
    assert skin.joints == list(range(22)) and document.nodes[22].skin == 0 and document.scenes[0].nodes == [0, 22]
    # Each inverse bind matrix undoes its joint's rest transform (a translation: the rest pose is a T-pose).
    rest_world = np.zeros((22, 3))
    for joint, node in enumerate(joints):
        rest_world[joint] = np.array(node.translation) + (rest_world[PARENTS[joint]] if joint else 0)
    inverse = accessor(skin.inverseBindMatrices).reshape(22, 4, 4).transpose(0, 2, 1)
    np.testing.assert_allclose(inverse[:, :3, 3], -rest_world, atol=1e-6)
    np.testing.assert_allclose(inverse[:, :3, :3], np.tile(np.eye(3), (22, 1, 1)))
    # Left arm out along +x, legs down, head up: a T-pose.
    assert rest_world[20, 0] > rest_world[16, 0] > 0 > rest_world[17, 0] > rest_world[21, 0]
    assert rest_world[7, 1] < rest_world[4, 1] < rest_world[0, 1] < rest_world[15, 1]
    animation = document.animations[0]
    times = accessor(animation.samplers[0].input)
    np.testing.assert_allclose(times, np.arange(motion.num_frames) / 30.0, atol=1e-6)
    paths = [(channel.target.node, channel.target.path) for channel in animation.channels]
    assert {(joint, "rotation") for joint in range(22)} <= set(paths) and (0, "translation") in paths
    rotations = [accessor(animation.samplers[c.sampler].output).reshape(-1, 4) for c in animation.channels
                 if c.target.path == "rotation"]
    for quaternions in rotations:
        np.testing.assert_allclose(np.linalg.norm(quaternions, axis=-1), 1.0, atol=1e-5)
        assert ((quaternions[1:] * quaternions[:-1]).sum(-1) >= 0).all()  # no sign flips between frames


def test_stick_figure_follows_the_joints(tmp_path):
    motion = not_quite_rigid(5)
    document = pygltflib.GLTF2.load(save_gltf(motion, tmp_path / "m.glb"))
    blob = document.binary_blob()

    def read(index: int, dtype, width: int) -> np.ndarray:
        view = document.bufferViews[document.accessors[index].bufferView]
        return np.frombuffer(blob, dtype, count=view.byteLength // np.dtype(dtype).itemsize, offset=view.byteOffset).reshape(-1, width)

    primitives = document.meshes[0].primitives
    assert len(primitives) == 5 and len({p.material for p in primitives}) == 5
    for primitive in primitives:
        normals = read(primitive.attributes.NORMAL, np.float32, 3)
        np.testing.assert_allclose(np.linalg.norm(normals, axis=-1), 1.0, atol=1e-5)
        weights = read(primitive.attributes.WEIGHTS_0, np.float32, 4)
        assert (weights[:, 0] == 1).all() and (weights[:, 1:] == 0).all()
        joints = read(primitive.attributes.JOINTS_0, np.uint8, 4)
        assert joints[:, 0].max() < 22 and len(set(joints[:, 0])) >= 3


def test_validator_finds_no_problem(tmp_path):
    node = shutil.which("node")
    npm = shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("no node/npm on this machine (.ci/run installs the Khronos gltf-validator from npm)")
    modules = subprocess.run([npm, "root", "-g"], capture_output=True, text=True, check=True).stdout.strip()
    if not (Path(modules) / "gltf-validator").is_dir():
        pytest.skip("the Khronos gltf-validator is not installed (npm install -g gltf-validator; .ci/run does)")
    one_frame = Motion(not_quite_rigid(6).positions[:1])
    files = [save_gltf(not_quite_rigid(6), tmp_path / "m.glb"), save_gltf(not_quite_rigid(7), tmp_path / "m.gltf"),
             save_gltf(one_frame, tmp_path / "one.glb")]
    for path in files:
        result = subprocess.run([node, str(VALIDATOR_SCRIPT), str(path)], capture_output=True, text=True, timeout=60,
                                env={"NODE_PATH": modules, "PATH": "/usr/bin:/bin"})
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        assert report["issues"]["numErrors"] == 0, report["issues"]["messages"]
        assert report["issues"]["numWarnings"] == 0, report["issues"]["messages"]
        assert report["info"]["hasSkins"] and report["info"]["animationCount"] == 1


def test_bad_motion_is_refused_without_writing(tmp_path):
    with pytest.raises(ValueError, match=r"\[T, 22, 3\]"):
        save_gltf(Motion(positions=np.zeros((4, 21, 3), dtype=np.float32)), tmp_path / "bad.glb")
    with pytest.raises(ValueError, match="fps"):
        save_gltf(Motion(positions=not_quite_rigid(8).positions, fps=0.0), tmp_path / "bad.glb")
    broken = not_quite_rigid(8).positions.copy()
    broken[3, 5, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        save_gltf(Motion(positions=broken), tmp_path / "bad.gltf")
    with pytest.raises(ValueError, match=".glb or .gltf"):
        save_gltf(not_quite_rigid(8), tmp_path / "bad.obj")
    assert not any(tmp_path.iterdir())


def _spoilt(tmp_path: Path, change) -> Path:
    """A .gltf of a motion with `change` applied to its JSON document."""
    document = json.loads(save_gltf(not_quite_rigid(9), tmp_path / "good.gltf").read_text())
    change(document)
    path = tmp_path / "spoilt.gltf"
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize("change, message", [
    (lambda d: d["nodes"][7].update(name="ankle"), "one node for each of the 22 joints"),
    (lambda d: d["nodes"][0]["children"].remove(3) or d["nodes"][1]["children"].append(3), "in another tree"),
    (lambda d: d["buffers"][0].update(uri="../../secret.bin"), "in another file"),
    (lambda d: d["buffers"][0].update(uri="data:application/octet-stream;base64,AAAA"), "past the end of its buffer"),
    (lambda d: d["animations"][0]["samplers"][0].update(input=d["animations"][0]["samplers"][0]["output"]),
     "keyed at different times"),
    (lambda d: d["scenes"][0]["extras"]["syncmotion"].update(fps=-3), "frame rate must be a positive number"),
    (lambda d: d["nodes"][4].update(scale=[2, 2, 2]), "scales"),
    (lambda d: d["nodes"].extend([{"name": "a", "children": [0, 24]}, {"name": "b", "children": [23]}]), "loops above the pelvis"),
], ids=["missing-joint", "other-tree", "outside-file", "short-buffer", "mixed-times", "bad-fps", "scale", "loop"])
def test_foreign_or_damaged_gltf_is_explained(tmp_path, change, message):
    with pytest.raises(ValueError, match=message):
        load_gltf(_spoilt(tmp_path, change))


@pytest.mark.parametrize("content", [b"glTF\x02\x00\x00\x00\xff\xff\xff\xff", b"\x00\x01garbage", b"{\"asset\": 3}",
                                     b"glTF\x02\x00\x00\x00\x14\x00\x00\x00\x00\x00\x00\x00JSON"],
                         ids=["huge-length", "binary-garbage", "not-gltf-json", "empty-chunk"])
def test_files_that_are_not_gltf_are_refused(tmp_path, content):
    path = tmp_path / "motion.glb"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="is not a glTF motion of the 22-joint skeleton"):
        load_motion(path)
