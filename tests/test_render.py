"""Rendering: videos with the right frame count, filmstrips, the render command and its errors."""

from __future__ import annotations

import imageio.v2 as imageio
import imageio_ffmpeg
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from syncmotion.cli import main
from syncmotion.motion.io import save_json, save_results_npy
from syncmotion.motion.types import Motion, Segment
from syncmotion.render import render_filmstrip, render_video
from syncmotion.render.video import keyframes
from syncmotion_lab.corpus import generate_clip


@pytest.fixture(scope="module")
def motion():
    positions = generate_clip("wave", None, np.random.default_rng(1)).positions[:30]
    return Motion(positions, 20.0, [Segment("a person waves", 0, 15), Segment("a person stands", 15, 30)], [15])


def test_mp4_has_every_frame(tmp_path, motion):
    path = render_video(motion, tmp_path / "m.mp4", size=160, progress=False)
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    assert meta["size"] == (160, 160) and abs(meta["fps"] - 20) < 1e-6
    assert sum(1 for _ in reader) == motion.num_frames


def test_gif_has_every_frame(tmp_path, motion):
    path = render_video(motion, tmp_path / "m.gif", size=96, progress=False)
    frames = imageio.mimread(path)
    assert len(frames) == motion.num_frames and frames[0].shape[:2] == (96, 96)
    assert not np.array_equal(frames[0], frames[-1])  # the figure moves
    with Image.open(path) as gif:
        assert gif.info["duration"] == 50 and gif.info["loop"] == 0  # 20 fps, looping


def test_filmstrip_is_a_wide_png(tmp_path, motion):
    image = imageio.imread(render_filmstrip(motion, tmp_path / "strip.png", num_frames=4))
    assert image.shape[1] > 3 * image.shape[0]
    assert image[..., :3].std() > 10  # not a blank canvas


def test_keyframes_show_every_segment():
    segments = [Segment("walk", 0, 300), Segment("jump", 300, 320), Segment("wave", 320, 600)]
    frames = keyframes(Motion(np.zeros((600, 22, 3)), 20.0, segments), 6)
    assert len(frames) == 6 and any(300 <= f < 320 for f in frames)  # the 1 s jump is not skipped
    assert keyframes(Motion(np.zeros((100, 22, 3)), 20.0), 4) == [0, 33, 66, 99]


def test_bad_suffixes_are_refused(tmp_path, motion):
    with pytest.raises(ValueError, match=".mp4 or .gif"):
        render_video(motion, tmp_path / "m.avi")
    with pytest.raises(ValueError, match=".png"):
        render_filmstrip(motion, tmp_path / "m.jpg")


def test_render_command_reads_json_and_npy(tmp_path, motion):
    save_json(motion, tmp_path / "m.json")
    save_results_npy([motion, motion], tmp_path / "results.npy")
    runner = CliRunner()
    result = runner.invoke(main, ["render", str(tmp_path / "m.json"), "--size", "96"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "m.mp4").exists()
    result = runner.invoke(main, ["render", str(tmp_path / "results.npy"), "--index", "1", "--out", str(tmp_path / "one.png")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "one.png").exists()


def test_render_command_errors(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["render", str(tmp_path / "missing.json")])
    assert result.exit_code != 0 and "no motion file" in result.output
    (tmp_path / "bad.json").write_text("{")
    result = runner.invoke(main, ["render", str(tmp_path / "bad.json")])
    assert result.exit_code != 0 and "is not JSON" in result.output
    assert not (tmp_path / "bad.mp4").exists()
    result = runner.invoke(main, ["render", str(tmp_path / "bad.json"), "--out", str(tmp_path / "bad.avi")])
    assert result.exit_code != 0 and ".mp4, .gif or .png" in result.output
