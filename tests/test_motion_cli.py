"""`syncmotion motion` end to end on tiny models: embedded file format, MDM official layout, outputs, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from syncmotion.backends import embedded
from syncmotion.backends.embedded import EMBEDDED_STEPS, load_embedded, save_embedded
from syncmotion.backends.mdm_network import MDMConfig, MDMNetwork
from syncmotion.cli import main
from syncmotion.motion.io import load_motion
from syncmotion.pipelines.long_motion import DEFAULT_OVERLAP, LongMotionSettings, generate_motion
from syncmotion.motion.script import parse_script, plan_windows
from syncmotion_lab.tiny_models.tiny_mdm import save_clip_text_model, save_identity_meta, save_official_checkpoint

TINY_ARGS = {"arch": "trans_enc", "dataset": "humanml", "latent_dim": 16, "layers": 1, "noise_schedule": "cosine",
             "diffusion_steps": 1000}




def official_checkpoint(folder):
    return save_official_checkpoint(folder, TINY_ARGS, MDMNetwork(MDMConfig(latent_dim=16, layers=1))), None


def test_embedded_file_round_trip(tiny_embedded):
    backend = load_embedded(tiny_embedded)
    assert backend.window == 40 and backend.default_steps == 4
    assert backend.scheduler.config.num_train_timesteps == 100


def test_generation_is_one_continuous_deterministic_motion(tiny_embedded):
    backend = load_embedded(tiny_embedded)
    script = parse_script("walk | 3s\njump | 2s\nwave | 70f\n")
    first = generate_motion(script, backend, LongMotionSettings(seed=3), progress=False)[0]
    again = generate_motion(script, backend, LongMotionSettings(seed=3), progress=False)[0]
    assert first.positions.shape == (script.num_frames, 22, 3)
    np.testing.assert_array_equal(first.positions, again.positions)
    assert first.meta["model_calls"] == 4 and first.seams and first.segments == script.segments
    other = generate_motion(script, backend, LongMotionSettings(seed=4), progress=False)[0]
    assert not np.array_equal(first.positions, other.positions)


def test_a_window_running_on_past_the_script_is_cut_away(tiny_embedded):
    backend = load_embedded(tiny_embedded)
    script = parse_script("wave | 20f\nwalk | 3s\njump | 25f\n")
    plan = plan_windows(script, backend.window, DEFAULT_OVERLAP)
    assert plan.layout.canvas_dims[0] > script.num_frames
    motion = generate_motion(script, backend, LongMotionSettings(seed=0), progress=False)[0]
    assert motion.positions.shape == (script.num_frames, 22, 3) and np.isfinite(motion.positions).all()
    assert motion.seams == plan.seams and all(0 < seam < script.num_frames for seam in motion.seams)


def test_motion_command_writes_every_format(tmp_path, tiny_embedded):
    script = tmp_path / "three.txt"
    script.write_text("a person walks | 3s\na person jumps | 2s\na person waves | 2s\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["motion", str(script), "--model", str(tiny_embedded), "--out", str(out),
                                       "--formats", "npy,json,png,mp4", "--seed", "1"])
    assert result.exit_code == 0, result.output
    results = np.load(out / "results.npy", allow_pickle=True).item()
    assert results["motion"].shape == (1, 22, 3, 140)
    document = json.loads((out / "motion.json").read_text())
    assert [s["text"] for s in document["segments"]] == ["a person walks", "a person jumps", "a person waves"]
    assert document["meta"]["strategy"] == "syncsde" and document["num_frames"] == 140 and document["meta"]["taper"]
    assert (out / "motion.png").stat().st_size > 0 and (out / "motion.mp4").stat().st_size > 0
    assert str(out / "motion.json") in result.output


def test_motion_command_writes_glb_and_gltf(tmp_path, tiny_embedded):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["motion", "--text", "a person walks; a person waves", "--seconds", "2", "--model",
                                       str(tiny_embedded), "--out", str(out), "--formats", "json,bvh,glb,gltf"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "syncmotion-run.json").read_text())
    assert sorted(entry["name"] for entry in manifest["files"]) == ["motion.bvh", "motion.glb", "motion.gltf", "motion.json"]
    glb, bvh = load_motion(out / "motion.glb"), load_motion(out / "motion.bvh")
    assert np.abs(glb.positions - bvh.positions).max() < 1e-3
    assert [segment.text for segment in glb.segments] == ["a person walks", "a person waves"]
    np.testing.assert_array_equal(load_motion(out / "motion.gltf").positions, glb.positions)


def test_text_prompts_and_samples(tmp_path, tiny_embedded):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["motion", "--text", "a person walks; a person sits", "--seconds", "3,2",
                                       "--model", str(tiny_embedded), "--out", str(out), "--formats", "npy,json",
                                       "--num-samples", "2", "--strategy", "multidiffusion", "--no-taper"])
    assert result.exit_code == 0, result.output
    assert np.load(out / "results.npy", allow_pickle=True).item()["motion"].shape == (2, 22, 3, 100)
    assert (out / "motion_00.json").exists() and (out / "motion_01.json").exists()
    assert json.loads((out / "motion_01.json").read_text())["meta"]["taper"] is False


def test_another_solver_samples_with_its_own_steps_and_is_recorded(tmp_path, tiny_embedded):
    metas = {}
    for name, options in (("default", []), ("model", ["--scheduler", "model"]),
                          ("dpm", ["--scheduler", "dpmsolver++", "--steps", "4"]),
                          ("dpm-again", ["--scheduler", "dpmsolver++", "--steps", "4"])):
        result = CliRunner().invoke(main, ["motion", "--text", "a person walks", "--seconds", "2", "--model", str(tiny_embedded),
                                           "--out", str(tmp_path / name), "--formats", "npy,json", *options])
        assert result.exit_code == 0, result.output
        metas[name] = json.loads((tmp_path / name / "motion.json").read_text())["meta"]
    # The embedded model's default is DDIM from pure noise; its own DDIM ("model") is not recorded.
    assert metas["default"]["scheduler"] == "ddim" and "scheduler" not in metas["model"]
    assert metas["dpm"]["scheduler"] == "dpmsolver++"
    assert metas["dpm"]["model_calls"] == 4 and metas["dpm"]["steps"] == 4
    assert (tmp_path / "dpm" / "results.npy").read_bytes() == (tmp_path / "dpm-again" / "results.npy").read_bytes()
    assert (tmp_path / "dpm" / "results.npy").read_bytes() != (tmp_path / "model" / "results.npy").read_bytes()


def test_default_steps_follow_the_solver(tmp_path):
    # Files record the steps of their own DDIM (50 for the shipped model); DDIM from pure noise needs only 30.
    torch.manual_seed(0)
    network = MDMNetwork(MDMConfig(latent_dim=16, ff_size=32, layers=1, text_dim=384, max_positions=200))
    path = tmp_path / "fifty.safetensors"
    settings = {"window": 40, "noise_schedule": "cosine", "diffusion_steps": 100, "sample_steps": 50}
    save_embedded(path, network, torch.zeros(263), torch.full((263,), 0.01), settings)
    backend = load_embedded(path)
    assert (backend.default_scheduler, backend.default_steps, backend.model_steps) == ("ddim", EMBEDDED_STEPS, 50)
    steps = {}
    for name, options in (("default", []), ("model", ["--scheduler", "model"]), ("dpm", ["--scheduler", "dpmsolver++"]),
                          ("asked", ["--steps", "7"])):
        result = CliRunner().invoke(main, ["motion", "--text", "a person walks", "--seconds", "2", "--model", str(path),
                                           "--out", str(tmp_path / name), "--formats", "json", *options])
        assert result.exit_code == 0, result.output
        meta = json.loads((tmp_path / name / "motion.json").read_text())["meta"]
        steps[name] = (meta["steps"], meta["model_calls"])
    assert steps == {"default": (30, 30), "model": (50, 50), "dpm": (30, 30), "asked": (7, 7)}


def test_precision_is_chosen_recorded_and_checked(tmp_path, tiny_embedded):
    metas, motions = {}, {}
    for precision in ("float32", "bfloat16"):
        out = tmp_path / precision
        result = CliRunner().invoke(main, ["motion", "--text", "a person walks", "--seconds", "2", "--model", str(tiny_embedded),
                                           "--out", str(out), "--formats", "npy,json", "--precision", precision])
        assert result.exit_code == 0, result.output
        metas[precision] = json.loads((out / "motion.json").read_text())["meta"]
        motions[precision] = np.load(out / "results.npy", allow_pickle=True).item()["motion"]
    assert metas["float32"]["precision"] == "float32" and metas["bfloat16"]["precision"] == "bfloat16"
    assert not np.array_equal(motions["float32"], motions["bfloat16"])
    result = CliRunner().invoke(main, ["motion", "--text", "a person walks", "--model", str(tiny_embedded),
                                       "--out", str(tmp_path / "half"), "--precision", "half"])
    assert result.exit_code == 2 and "'half' is not one of 'auto', 'float32', 'bfloat16'" in result.output
    assert not (tmp_path / "half").exists()


def test_mdm_checkpoint_through_the_command(tmp_path):
    checkpoint, _ = official_checkpoint(tmp_path / "ckpt")
    meta, clip = save_identity_meta(tmp_path / "meta"), save_clip_text_model(tmp_path / "clip")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["motion", "--text", "a person walks", "--seconds", "2", "--model", str(checkpoint),
                                       "--meta", str(meta), "--clip", str(clip), "--steps", "3", "--out", str(out),
                                       "--formats", "npy"])
    assert result.exit_code == 0, result.output
    assert np.load(out / "results.npy", allow_pickle=True).item()["motion"].shape == (1, 22, 3, 40)


@pytest.mark.parametrize("arguments, message", [
    (["--text", "walk", "--model", "{ckpt}"], "also needs --meta"),
    (["--text", "walk; ", "--model", "{ckpt}"], "empty prompt"),
    (["--text", "walk; run", "--seconds", "1,2,3"], "3 durations for 2 prompts"),
    (["{missing}"], "does not exist"),
    ([], "give a SCRIPT file or --text"),
    (["--text", "walk", "--formats", "npy,avi"], "--formats"),
    (["--text", "walk", "--smooth", "4"], "--smooth must be 0 (off) or an odd number"),
    (["--text", "walk", "--model", "{ckpt_dir}/model.bin"], "is not an MDM checkpoint"),
])
def test_command_errors_are_one_clear_line(tmp_path, arguments, message):
    checkpoint, _ = official_checkpoint(tmp_path / "ckpt")
    filled = [a.format(ckpt=checkpoint, ckpt_dir=checkpoint.parent, missing=tmp_path / "missing.txt") for a in arguments]
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["motion", *filled, "--out", str(out)])
    assert result.exit_code != 0
    assert message in result.output
    assert not out.exists()


def test_bad_script_line_is_reported(tmp_path):
    script = tmp_path / "bad.txt"
    script.write_text("a person walks | 3s\na person runs for a while\n")
    result = CliRunner().invoke(main, ["motion", str(script), "--out", str(tmp_path / "out")])
    assert result.exit_code != 0 and f"{script}:2" in result.output


def test_missing_embedded_model_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setattr(embedded, "default_model_path", lambda: tmp_path / "nowhere.safetensors")
    result = CliRunner().invoke(main, ["motion", "--text", "walk", "--out", str(tmp_path / "out")])
    assert result.exit_code != 0 and "tools/train_embedded.py" in result.output and "--model" in result.output
