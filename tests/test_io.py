"""Motion files: JSON and MDM results.npy round trips, MDM's reading habits, errors, atomic writes."""

from __future__ import annotations

import json
import os
import signal
import stat

import numpy as np
import pytest

from syncmotion.files import write_atomically
from syncmotion.motion.io import load_motion, save_json, save_results_npy
from syncmotion.motion.types import Motion, Segment
from syncmotion_lab.corpus import sample_clip


@pytest.fixture
def motions():
    rng = np.random.default_rng(5)
    out = []
    for index in range(2):
        positions = sample_clip(rng).positions.astype(np.float32)
        half = len(positions) // 2
        out.append(Motion(positions, 20.0, [Segment("walk", 0, half), Segment("wave", half, len(positions))], [half],
                          {"strategy": "syncsde", "seed": index}))
    return out


def test_json_round_trip_and_schema(tmp_path, motions):
    path = tmp_path / "motion.json"
    save_json(motions[0], path)
    document = json.loads(path.read_text())
    assert document["format"] == "syncmotion.motion" and document["version"] == 1
    assert document["num_frames"] == motions[0].num_frames and len(document["joint_names"]) == 22
    loaded = load_motion(path)
    np.testing.assert_allclose(loaded.positions, motions[0].positions, atol=6e-5)
    assert loaded.segments == motions[0].segments and loaded.seams == motions[0].seams
    assert loaded.meta["strategy"] == "syncsde"


def test_results_npy_reads_like_mdm_and_round_trips(tmp_path, motions):
    path = tmp_path / "results.npy"
    save_results_npy(motions, path)
    results = np.load(path, allow_pickle=True).item()  # how MDM's tools read it
    longest = max(m.num_frames for m in motions)
    assert results["motion"].shape == (2, 22, 3, longest)
    assert list(results["lengths"]) == [m.num_frames for m in motions]
    assert results["text"][0] == "walk / wave" and results["num_samples"] == 2 and results["num_repetitions"] == 1
    loaded = load_motion(path)
    for original, back in zip(motions, loaded):
        np.testing.assert_array_equal(back.positions, original.positions)
        assert back.segments == original.segments and back.seams == original.seams
    assert load_motion(path, index=1).meta["seed"] == 1


def test_plain_mdm_results_load(tmp_path):
    motion = np.random.default_rng(0).normal(size=(1, 22, 3, 50)).astype(np.float32)
    np.save(tmp_path / "results.npy", {"motion": motion, "text": ["a person jumps"], "lengths": np.array([40]),
                                       "num_samples": 1, "num_repetitions": 1})
    loaded = load_motion(tmp_path / "results.npy", index=0)
    assert loaded.num_frames == 40 and loaded.segments == [Segment("a person jumps", 0, 40)]


@pytest.mark.parametrize("content, message", [
    ("not json", "is not JSON"),
    ('{"format": "other"}', "is not a syncmotion motion"),
    ('{"format": "syncmotion.motion", "version": 9}', "version 9"),
    ('{"format": "syncmotion.motion", "version": 1, "positions": [[[0, 0]]]}', r"\[frames, 22, 3\]"),
    ('{"format": "syncmotion.motion", "version": 1}', "no 'positions' entry"),
    ('{"format": "syncmotion.motion", "version": 1, "positions": [], "segments": [{"text": "a"}]}', "no 'start' entry"),
    ('{"format": "syncmotion.motion", "version": 1, "positions": [], "fps": "fast"}', "malformed motion"),
])
def test_bad_json_files_are_explained(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        load_motion(path)


def test_bad_paths_and_indices(tmp_path, motions):
    with pytest.raises(FileNotFoundError):
        load_motion(tmp_path / "missing.json")
    (tmp_path / "motion.fbx").write_text("Kaydara FBX Binary")
    with pytest.raises(ValueError, match=r"unknown motion file type '.fbx'; give a .json, .npy, .bvh, .glb or .gltf file"):
        load_motion(tmp_path / "motion.fbx")
    save_results_npy(motions, tmp_path / "results.npy")
    with pytest.raises(ValueError, match="--index must be between 0 and 1"):
        load_motion(tmp_path / "results.npy", index=5)


def test_failed_write_leaves_no_file(tmp_path):
    def write_half_then_fail(tmp):
        tmp.write_text("half a file")
        raise RuntimeError("disk full")

    (tmp_path / "out.json").write_text("previous")
    with pytest.raises(RuntimeError):
        write_atomically(tmp_path / "out.json", write_half_then_fail)
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]
    assert (tmp_path / "out.json").read_text() == "previous"


def test_ctrl_c_stays_a_keyboard_interrupt_where_a_library_turns_it_into_an_error(tmp_path):
    def write(path):
        try:
            signal.raise_signal(signal.SIGINT)  # Ctrl-C while a library runs our code
        except KeyboardInterrupt:
            raise ValueError("Invalid bounding box") from None  # what matplotlib's Agg drawing makes of it

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal, not a background job
    try:
        with pytest.raises(KeyboardInterrupt):
            write_atomically(tmp_path / "motion.png", write)
        with pytest.raises(ValueError, match="bounding box"):  # a real error of the library stays itself
            write_atomically(tmp_path / "motion.png", lambda path: (_ for _ in ()).throw(ValueError("bounding box")))
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, previous)
    assert not list(tmp_path.iterdir())


def test_written_files_get_the_usual_permissions(tmp_path):
    previous = os.umask(0o022)
    try:
        write_atomically(tmp_path / "out.json", lambda tmp: tmp.write_text("{}"))
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "out.json").stat().st_mode) == 0o644


def test_bad_npy_files_are_explained(tmp_path, motions):
    (tmp_path / "text.npy").write_text("not numpy")
    with pytest.raises(ValueError, match="is not an MDM results.npy"):
        load_motion(tmp_path / "text.npy")
    np.save(tmp_path / "array.npy", np.zeros((2, 22, 3, 10)))
    with pytest.raises(ValueError, match="is not an MDM results.npy"):
        load_motion(tmp_path / "array.npy")
    np.save(tmp_path / "short.npy", {"motion": np.zeros((2, 22, 3, 10)), "lengths": np.array([10])})
    with pytest.raises(ValueError, match="damaged"):
        load_motion(tmp_path / "short.npy")


def test_exports_refuse_bad_motions(tmp_path, motions):
    broken = Motion(motions[0].positions.copy(), 20.0)
    broken.positions[3, 4, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        save_json(broken, tmp_path / "m.json")
    with pytest.raises(ValueError, match="NaN"):
        save_results_npy([broken], tmp_path / "results.npy")
    with pytest.raises(ValueError, match="22, 3"):
        save_json(Motion(np.zeros((5, 21, 3)), 20.0), tmp_path / "m.json")
    with pytest.raises(ValueError, match="repetitions"):
        save_results_npy(motions, tmp_path / "results.npy", num_repetitions=3)
    assert not list(tmp_path.iterdir())


def test_repetitions_and_numpy_meta(tmp_path, motions):
    save_results_npy(motions, tmp_path / "results.npy", num_repetitions=2)
    results = np.load(tmp_path / "results.npy", allow_pickle=True).item()
    assert results["num_samples"] == 1 and results["num_repetitions"] == 2
    motion = Motion(motions[0].positions, 20.0, meta={"inv_lambda": np.float32(5.0), "sizes": np.arange(3)})
    save_json(motion, tmp_path / "m.json")
    assert load_motion(tmp_path / "m.json").meta == {"inv_lambda": 5.0, "sizes": [0, 1, 2]}
