"""Span edits: frames outside span + margin bit-identical, only the span's windows sampled, inputs never touched."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from click.testing import CliRunner

from syncmotion.backends.embedded import load_embedded
from syncmotion.cli import main
from syncmotion.motion.io import load_motion, save_json, save_results_npy
from syncmotion.motion.script import parse_script
from syncmotion.pipelines.long_motion import DEFAULT_OVERLAP, LongMotionSettings, generate_motion
from syncmotion.pipelines.motion_edit import edit_motion, plan_edit

SCRIPT = "a person walks | 6s\na person jumps | 4s\na person waves | 6s\n"


@pytest.fixture(scope="module")
def original(tiny_embedded):
    """A 16 s motion of the tiny model (window 40 frames)."""
    return generate_motion(parse_script(SCRIPT), load_embedded(tiny_embedded), LongMotionSettings(seed=2), progress=False)[0]


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _outside(frames: int, first: int, last: int) -> np.ndarray:
    return np.r_[0:first, last:frames]


def test_cli_edit_keeps_every_frame_outside_span_and_margin(tmp_path, tiny_embedded, original):
    source = tmp_path / "take1" / "motion.json"
    source.parent.mkdir()
    save_json(original, source)
    before = _digest(source)
    out = tmp_path / "take2"
    result = CliRunner().invoke(main, ["motion", "--edit", str(source), "--span", "5s-8s", "--text", "a person sits down",
                                       "--model", str(tiny_embedded), "--out", str(out), "--formats", "json,npy"])
    assert result.exit_code == 0, result.output
    assert _digest(source) == before
    old, new = load_motion(source), load_motion(out / "motion.json")
    first, last = 100 - DEFAULT_OVERLAP, 160 + DEFAULT_OVERLAP
    kept = _outside(old.num_frames, first, last)
    # Bit for bit: one changed value anywhere outside span + margin fails this.
    assert np.array_equal(old.positions[kept], new.positions[kept])
    assert not np.allclose(old.positions[100:160], new.positions[100:160], atol=1e-3)
    # The JSON keeps 4 decimals, the results.npy every bit: both hold the same edit.
    np.testing.assert_allclose(load_motion(out / "results.npy")[0].positions, new.positions, atol=6e-5)
    record = new.meta["edits"][-1]
    assert record["span"] == [100, 160] and record["text"] == "a person sits down"
    assert [(s.text, s.start, s.end) for s in new.segments] == [
        ("a person walks", 0, 100), ("a person sits down", 100, 160), ("a person jumps", 160, 200), ("a person waves", 200, 320)]


def test_only_the_windows_touching_the_span_are_sampled(tiny_embedded, original):
    backend = load_embedded(tiny_embedded)
    edited = edit_motion(original, (100, 120), backend, LongMotionSettings(seed=1, overlap=4), progress=False)
    record = edited.meta["edits"][-1]
    low, high = record["sampled"]
    assert record["margin"] == 4 and record["windows"] == 1 and high - low == backend.window
    assert low <= 100 - 4 and high >= 120 + 4
    kept = _outside(original.num_frames, 96, 124)
    assert np.array_equal(original.positions[kept], edited.positions[kept])
    assert record["window_evaluations"] < original.meta["window_evaluations"] / 4
    # A longer span takes more windows: the cost follows the span, not the motion.
    longer = plan_edit(original, (40, 240), backend.window, DEFAULT_OVERLAP)
    assert longer.layout.num_windows > 1 and longer.low >= 40 - 2 * DEFAULT_OVERLAP


@pytest.mark.parametrize("span", [(0, 30), (290, 320)])
def test_edits_at_the_motion_ends_keep_the_rest(tiny_embedded, original, span):
    edited = edit_motion(original, span, load_embedded(tiny_embedded), LongMotionSettings(seed=1), progress=False)
    first, last = max(span[0] - DEFAULT_OVERLAP, 0), min(span[1] + DEFAULT_OVERLAP, original.num_frames)
    kept = _outside(original.num_frames, first, last)
    assert np.array_equal(original.positions[kept], edited.positions[kept])
    assert edited.positions.shape == original.positions.shape and np.isfinite(edited.positions).all()


def test_edit_of_an_mdm_results_file(tmp_path, tiny_embedded, original):
    """MDM's own results.npy (no syncmotion extras, two samples, zero-padded): each sample edited, the rest kept."""
    stacked = np.zeros((2, 22, 3, 320), dtype=np.float32)
    stacked[0] = original.positions.transpose(1, 2, 0)
    stacked[1, :, :, :300] = original.positions[:300].transpose(1, 2, 0) + np.float32(0.5)
    source = tmp_path / "mdm" / "results.npy"
    source.parent.mkdir()
    np.save(source, {"motion": stacked, "text": ["a person walks", "a person runs"], "lengths": np.array([320, 300]),
                     "num_samples": 2, "num_repetitions": 1}, allow_pickle=True)
    before = _digest(source)
    out = tmp_path / "edited"
    result = CliRunner().invoke(main, ["motion", "--edit", str(source), "--span", "40f-80f", "--model", str(tiny_embedded),
                                       "--out", str(out), "--formats", "npy"])
    assert result.exit_code == 0, result.output
    assert _digest(source) == before
    old, new = load_motion(source), load_motion(out / "results.npy")
    for a, b in zip(old, new):
        kept = _outside(a.num_frames, 40 - DEFAULT_OVERLAP, 80 + DEFAULT_OVERLAP)
        assert a.num_frames == b.num_frames and np.array_equal(a.positions[kept], b.positions[kept])
        assert b.segments[0].text == a.segments[0].text  # no --text: a new take of the motion's own text


@pytest.mark.parametrize("arguments, message", [
    (["--span", "15s-20s"], "ends after the motion"),
    (["--span", "8s-5s"], "empty or reversed"),
    (["--span", "soon"], "is not a span"),
    ([], "--edit needs --span"),
])
def test_bad_spans_are_refused_in_one_line(tmp_path, tiny_embedded, original, arguments, message):
    source = tmp_path / "motion.json"
    save_json(original, source)
    before = _digest(source)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["motion", "--edit", str(source), "--model", str(tiny_embedded), "--out", str(out),
                                       *arguments])
    assert result.exit_code != 0 and message in result.output and "Traceback" not in result.output
    said = [line for line in result.output.splitlines() if line.strip() and not line.startswith(("Usage:", "Try '"))]
    assert len(said) == 1  # besides click's usage lines, one line
    assert _digest(source) == before and not out.exists()


def test_a_file_that_is_not_a_motion_and_an_out_that_would_replace_the_input(tmp_path, tiny_embedded, original):
    bogus = tmp_path / "notes.json"
    bogus.write_text(json.dumps({"hello": 1}))
    result = CliRunner().invoke(main, ["motion", "--edit", str(bogus), "--span", "1s-2s", "--model", str(tiny_embedded)])
    assert result.exit_code != 0 and "not a syncmotion motion" in result.output
    assert len(result.output.strip().splitlines()) == 1
    source = tmp_path / "take" / "results.npy"
    source.parent.mkdir()
    save_results_npy([original], source)
    before = _digest(source)
    result = CliRunner().invoke(main, ["motion", "--edit", str(source), "--span", "1s-2s", "--model", str(tiny_embedded),
                                       "--out", str(source.parent)])
    assert result.exit_code != 0 and "would replace" in result.output and _digest(source) == before


def test_edit_with_an_mdm_checkpoint(tmp_path, original):
    """The official MDM layout (a tiny random one) edits as the embedded model does: 196-frame windows, rest kept."""
    import torch

    from syncmotion.backends.mdm_network import MDMConfig, MDMNetwork
    from syncmotion_lab.tiny_models.tiny_mdm import save_clip_text_model, save_identity_meta, save_official_checkpoint

    torch.manual_seed(1)
    args = {"arch": "trans_enc", "dataset": "humanml", "latent_dim": 16, "layers": 1, "cond_mask_prob": 0.1,
            "noise_schedule": "cosine", "diffusion_steps": 1000, "text_encoder_type": "clip", "sigma_small": True}
    checkpoint = save_official_checkpoint(tmp_path / "mdm", args, MDMNetwork(MDMConfig(latent_dim=16, layers=1)))
    source = tmp_path / "take" / "results.npy"
    source.parent.mkdir()
    save_results_npy([original], source)
    out = tmp_path / "edited"
    result = CliRunner().invoke(main, ["motion", "--edit", str(source), "--span", "2s-4s", "--text", "a person walks",
                                       "--model", str(checkpoint), "--meta", str(save_identity_meta(tmp_path / "meta")),
                                       "--clip", str(save_clip_text_model(tmp_path / "clip")), "--steps", "2",
                                       "--out", str(out), "--formats", "npy"])
    assert result.exit_code == 0, result.output
    new = load_motion(out / "results.npy")[0]
    record = new.meta["edits"][-1]
    assert record["model"].startswith("mdm:") and record["sampled"][1] - record["sampled"][0] == 196
    kept = _outside(original.num_frames, 40 - DEFAULT_OVERLAP, 80 + DEFAULT_OVERLAP)
    assert np.array_equal(original.positions[kept], new.positions[kept])
    assert not np.allclose(original.positions[40:80], new.positions[40:80], atol=1e-3)


@pytest.mark.parametrize("extra", [["script.txt"], ["--key", "1s pose.json"], ["--path", "0s 0 0, 1s 1 0"]])
def test_an_edit_takes_no_script_keys_or_path(tmp_path, original, extra):
    source = tmp_path / "motion.json"
    save_json(original, source)
    result = CliRunner().invoke(main, ["motion", "--edit", str(source), "--span", "1s-2s", *extra])
    assert result.exit_code == 2 and "give no SCRIPT, --key or --path" in result.output
