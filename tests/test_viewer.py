"""The browser viewer end to end in headless Chromium: load, labels, scrub, side by side, GLB, bad files, screenshot."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from syncmotion.cli import main
from syncmotion.motion.bvh import save_bvh
from syncmotion.motion.features import canonicalize
from syncmotion.motion.gltf import save_gltf
from syncmotion.motion.io import load_motion, motion_to_dict, save_json, save_results_npy
from syncmotion.motion.types import Motion, Segment
from syncmotion.viewer import serve
from syncmotion_lab.corpus import generate_clip

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on this machine (.ci/run installs Debian's chromium)")


def two_segment_motion(seed: int, strategy: str) -> Motion:
    rng = np.random.default_rng(seed)
    walk = canonicalize(generate_clip("walk", None, rng).positions)
    wave = canonicalize(generate_clip("wave", None, rng).positions) + walk[-1, 0] * np.array([1, 0, 1])
    positions = np.concatenate([walk, wave]).astype(np.float32)
    return Motion(positions, 20.0, [Segment("a person walks forward", 0, len(walk)),
                                    Segment("a person waves", len(walk), len(positions))], [len(walk)], {"strategy": strategy})


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as driver:
        instance = driver.chromium.launch(executable_path=CHROMIUM, args=["--use-gl=swiftshader", "--enable-unsafe-swiftshader"])
        yield instance
        instance.close()


def open_viewer(browser, paths):
    server, url = serve(paths)
    page = browser.new_page(viewport={"width": 1100, "height": 700})
    page.goto(url)
    page.wait_for_function("window.syncmotionViewer && window.syncmotionViewer.ready", timeout=20000)
    return server, page


def test_loads_scrubs_and_labels(browser, tmp_path):
    motion = two_segment_motion(0, "syncsde")
    save_json(motion, tmp_path / "motion.json")
    server, page = open_viewer(browser, [tmp_path / "motion.json"])
    try:
        state = page.evaluate("window.syncmotionViewer")
        assert state["error"] is None
        assert state["numFrames"] == motion.num_frames
        assert state["segments"] == ["a person walks forward", "a person waves"]
        assert page.locator(".band").all_inner_texts() == ["a person walks forward", "a person waves"]
        target = motion.segments[1].start + 5
        page.evaluate(f"window.syncmotionViewer.setFrame({target})")
        assert page.inner_text("#frame-label").startswith(f"frame {target + 1} / {motion.num_frames}")
        assert page.inner_text("#segment-label") == "a person waves"
        page.fill("#scrubber", "3")
        page.dispatch_event("#scrubber", "input")
        assert page.evaluate("window.syncmotionViewer.frame") == 3
        assert page.inner_text("#segment-label") == "a person walks forward"
        page.screenshot(path=str(tmp_path / "viewer.png"))
        assert (tmp_path / "viewer.png").stat().st_size > 10000
    finally:
        page.close()
        server.shutdown()


def test_side_by_side_from_a_folder_and_results_npy(browser, tmp_path):
    save_json(two_segment_motion(1, "syncsde"), tmp_path / "a.json")
    save_json(two_segment_motion(2, "multidiffusion"), tmp_path / "b.json")
    save_results_npy([two_segment_motion(3, "independent")], tmp_path / "other" / "results.npy")
    server, page = open_viewer(browser, [tmp_path, tmp_path / "other" / "results.npy"])
    try:
        motions = page.evaluate("window.syncmotionViewer.motions")
        assert len(motions) == 3 and page.locator(".panel").count() == 3
        titles = page.locator(".panel .title").all_inner_texts()
        assert "syncsde" in titles[0] and "multidiffusion" in titles[1]
        longest = max(m["numFrames"] for m in motions)
        assert page.evaluate("window.syncmotionViewer.numFrames") == longest
    finally:
        page.close()
        server.shutdown()


def test_glb_shows_the_pose_of_the_json(browser, tmp_path):
    motion = two_segment_motion(6, "syncsde")
    rng = np.random.default_rng(6)  # a few millimetres of noise: bone lengths vary, as in a model's output
    motion.positions = (motion.positions + rng.normal(0, 0.004, motion.positions.shape)).astype(np.float32)
    save_json(motion, tmp_path / "a.json")
    save_gltf(motion, tmp_path / "b.glb")
    save_bvh(motion, tmp_path / "c.bvh")
    server, page = open_viewer(browser, [tmp_path / "a.json", tmp_path / "b.glb", tmp_path / "c.bvh"])
    try:
        assert page.evaluate("window.syncmotionViewer.error") is None
        motions = page.evaluate("window.syncmotionViewer.motions")
        assert [m["numFrames"] for m in motions] == [motion.num_frames] * 3 and [m["fps"] for m in motions] == [20, 20, 20]
        assert motions[1]["segments"] == ["a person walks forward", "a person waves"]
        rigid = load_motion(tmp_path / "b.glb").positions
        for frame in (0, motion.segments[1].start + 3, motion.num_frames - 1):
            page.evaluate(f"window.syncmotionViewer.setFrame({frame})")
            assert page.evaluate("window.syncmotionViewer.panelFrames") == [frame] * 3
            json_pose, glb_pose, bvh_pose = np.array(page.evaluate("window.syncmotionViewer.panelPoses"))
            # three.js poses the GLB's skeleton where our reader and the BVH put it, to float precision ...
            assert np.abs(glb_pose - rigid[frame]).max() < 1e-4 and np.abs(bvh_pose - glb_pose).max() < 1e-4
            # ... and that is the JSON's pose up to what a rigid skeleton costs (millimetres, at most a couple of cm).
            assert np.linalg.norm(glb_pose - json_pose, axis=-1).max() < 0.03
        assert page.locator(".panel .caption").all_inner_texts()[1] == "a person waves"
    finally:
        page.close()
        server.shutdown()


@pytest.mark.parametrize(("name", "content", "message"), [
    ("bad.json", b'{"format": "something else"}', "bad.json is not a syncmotion motion"),
    ("broken.glb", b"glTF\x02\x00\x00\x00garbage", "broken.glb is not a glTF motion"),
], ids=["json", "glb"])
def test_bad_file_shows_a_message(browser, tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)
    server, page = open_viewer(browser, [tmp_path / name])
    try:
        assert page.is_visible("#error")
        assert message in page.inner_text("#error")
    finally:
        page.close()
        server.shutdown()


def test_side_by_side_with_different_fps_follows_time_in_seconds(browser, tmp_path):
    slow = two_segment_motion(4, "syncsde")
    # The same motion at twice the frame rate: every frame twice, segments and seams in its own frames.
    fast = Motion(np.repeat(slow.positions, 2, axis=0), 2 * slow.fps,
                  [Segment(s.text, 2 * s.start, 2 * s.end) for s in slow.segments], [2 * s for s in slow.seams], {"strategy": "fast"})
    save_json(slow, tmp_path / "a_slow.json")
    save_json(fast, tmp_path / "b_fast.json")
    server, page = open_viewer(browser, [tmp_path])
    try:
        assert page.evaluate("window.syncmotionViewer.error") is None
        assert [m["fps"] for m in page.evaluate("window.syncmotionViewer.motions")] == [20, 40]
        assert "40 fps" in page.locator(".panel .title").all_inner_texts()[1]
        # The shared clock runs at the first file's 20 fps; it reaches the fast file's last frame, half a slow frame later.
        assert page.evaluate("window.syncmotionViewer.numFrames") == slow.num_frames + 1
        wave = slow.segments[1].start + 3
        for shared, expected in [(0, [0, 0]), (wave, [wave, 2 * wave]),
                                 (slow.num_frames - 1, [slow.num_frames - 1, 2 * slow.num_frames - 2]),
                                 (slow.num_frames, [slow.num_frames - 1, fast.num_frames - 1])]:
            page.evaluate(f"window.syncmotionViewer.setFrame({shared})")
            assert page.evaluate("window.syncmotionViewer.panelFrames") == expected
        page.evaluate(f"window.syncmotionViewer.setFrame({wave})")
        assert page.locator(".panel .caption").all_inner_texts() == ["a person waves", "a person waves"]
        # Both files' bands for the same segment start at the same place on the timeline.
        lefts = page.eval_on_selector_all(".band-row", "rows => rows.map(r => r.children[1].getBoundingClientRect().left)")
        assert abs(lefts[0] - lefts[1]) < 1
    finally:
        page.close()
        server.shutdown()


@pytest.mark.parametrize(("spoil", "why"), [
    (lambda frame: frame[4].__setitem__(1, None), "joint 4 has null for y"),
    (lambda frame: frame.pop(), "it has 21 joints, not 22"),
], ids=["null-coordinate", "missing-joint"])
def test_bad_middle_frame_is_named(browser, tmp_path, spoil, why):
    document = motion_to_dict(two_segment_motion(5, "syncsde"))
    middle = len(document["positions"]) // 2
    spoil(document["positions"][middle])
    spoil(document["positions"][middle + 7])
    (tmp_path / "spoilt.json").write_text(json.dumps(document))
    server, page = open_viewer(browser, [tmp_path / "spoilt.json"])
    try:
        assert page.is_visible("#error")
        message = page.inner_text("#error")
        assert "spoilt.json is not a syncmotion motion" in message
        assert f"the first bad frame is positions[{middle}] (frame {middle + 1} of {len(document['positions'])})" in message
        assert why in message
        assert page.locator(".panel").count() == 0
    finally:
        page.close()
        server.shutdown()


def test_view_command_errors(tmp_path):
    result = CliRunner().invoke(main, ["view", str(tmp_path / "missing.json"), "--no-browser"])
    assert result.exit_code != 0 and "no motion file" in result.output
    result = CliRunner().invoke(main, ["view", str(tmp_path), "--no-browser"])
    assert result.exit_code != 0 and "has no motion files" in result.output


def test_timeline_tracks_are_stacked_bands_labelled_with_their_parts(browser, tmp_path):
    motion = two_segment_motion(0, "syncsde")
    length = motion.num_frames
    motion.segments = [Segment("a person walks forward", 0, length), Segment("a person waves", 20, 60),
                       Segment("a person claps", 70, 100)]
    motion.meta["tracks"] = [
        {"text": "a person walks forward", "start": 0, "end": length, "parts": ["legs"], "whole_body": True},
        {"text": "a person waves", "start": 20, "end": 60, "parts": ["right arm"], "whole_body": False},
        {"text": "a person claps", "start": 70, "end": 100, "parts": ["left arm", "right arm"], "whole_body": False}]
    save_json(motion, tmp_path / "motion.json")
    server, page = open_viewer(browser, [tmp_path / "motion.json"])
    try:
        rows = page.eval_on_selector_all(".band-row", "rows => rows.map(r => Array.from(r.children, b => b.textContent))")
        # The two arm tracks do not overlap: they share the second lane, under the walk.
        assert rows == [["a person walks forward · whole body"],
                        ["a person waves · right arm", "a person claps · left arm, right arm"]]
    finally:
        page.close()
        server.shutdown()
