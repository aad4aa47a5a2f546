"""Timelines sampled: one lockstep batch on tiny models (embedded and MDM), every strategy, body-part pulls, loops."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from diffusers import DDIMScheduler

from syncmotion.backends.embedded import default_model_path, load_default, load_embedded
from syncmotion.backends.mdm_network import MDMConfig, MDMNetwork
from syncmotion.cli import main
from syncmotion.engine import sample
from syncmotion.engine.owned_windows import OwnedWindows
from syncmotion.motion.loops import replay
from syncmotion.motion.script import parse_script
from syncmotion.pipelines.long_motion import LongMotionSettings, generate_motion
from syncmotion_lab.tiny_models.tiny_mdm import save_clip_text_model, save_identity_meta, save_official_checkpoint

TIMELINE = "a person walks forward | 0s-4s\na person waves with the right hand | 1s-3s | right arm\n"
STMC = "a person jogs in place # 0.0 # 3.0 # legs\na person raises the right hand # 1.0 # 2.5 # right arm\n"
TINY_ARGS = {"arch": "trans_enc", "dataset": "humanml", "latent_dim": 16, "layers": 1, "noise_schedule": "cosine",
             "diffusion_steps": 1000}


def test_tracks_run_in_one_lockstep_batch(tiny_embedded):
    backend = load_embedded(tiny_embedded)
    script = parse_script(TIMELINE)
    first, again = (generate_motion(script, backend, LongMotionSettings.named("syncsde", seed=3), progress=False)[0]
                    for _ in range(2))
    assert first.positions.shape == (80, 22, 3) and np.isfinite(first.positions).all()
    np.testing.assert_array_equal(first.positions, again.positions)
    meta = first.meta
    # One batched model call per step for every window of every track.
    assert meta["model_calls"] == meta["steps"] and meta["window_evaluations"] == meta["steps"] * len(meta["window_texts"])
    assert set(meta["window_texts"]) == {"a person walks forward", "a person waves with the right hand"}
    assert meta["tracks"][1]["parts"] == ["right arm"] and meta["tracks"][0]["whole_body"]
    assert first.seams == [20, 60]


@pytest.mark.parametrize("strategy", ["independent", "multidiffusion", "synctweedies", "precisiontweedies", "handshake"])
def test_every_strategy_runs_on_the_same_timeline(tiny_embedded, strategy):
    motion = generate_motion(parse_script(TIMELINE), load_embedded(tiny_embedded),
                             LongMotionSettings.named(strategy, seed=0), progress=False)[0]
    assert motion.positions.shape == (80, 22, 3) and np.isfinite(motion.positions).all()


def test_doubletake_is_refused_on_timelines(tiny_embedded):
    with pytest.raises(ValueError, match="does not run on timelines"):
        generate_motion(parse_script(TIMELINE), load_embedded(tiny_embedded), LongMotionSettings.named("doubletake"),
                        progress=False)


class HalfwayToText:
    """A denoiser whose clean estimate is halfway between its noisy input and one constant per text."""

    prediction_type = "sample"

    def __init__(self, values):
        self.values = values

    def __call__(self, x, t, conds):
        return torch.stack([0.5 * x[i] + 0.5 * self.values[c] for i, c in enumerate(conds)])


def owned_layout():
    # Two tracks over 30 frames of 4 channels: track 1 owns channels 2-3 on frames 10-19, track 0 everything else.
    ownership = torch.zeros(2, 4, 30)
    ownership[0] = 1
    ownership[1, 2:, 10:20], ownership[0, 2:, 10:20] = 1, 0
    return OwnedWindows(30, 20, [0, 10, 5], [0, 0, 1], ownership)


def test_windows_are_pulled_toward_the_track_that_moves_a_part():
    layout = owned_layout()
    scheduler = DDIMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", clip_sample=False)
    pulled = {}
    for rule in ("syncsde", "synctweedies", "independent"):
        result = sample(HalfwayToText({"walk": 0.0, "wave": 1.0}), scheduler, layout, ["walk", "walk", "wave"],
                        latent_shape=(4,), strategy=rule, steps=20, generator=torch.Generator().manual_seed(0),
                        progress=False)
        windows, canvas = result.windows[0], result.canvas[0]
        # The canvas takes the wave's channels from the wave's window where the wave alone moves them.
        torch.testing.assert_close(canvas[2:, 12:18], windows[2, 2:, 7:13])
        # The walk's second window (frames 10-29) where the wave moves channels 2-3 (its positions 2-7).
        pulled[rule] = float(windows[1, 2:, 2:8].mean())
    # Measured: independent -0.05, SyncSDE 0.12 (1/λ = 5 pulls the noisy states only), SyncTweedies 0.90 (x̂0 stitched).
    assert pulled["independent"] < 0.1 and pulled["syncsde"] > pulled["independent"] + 0.1 and pulled["synctweedies"] > 0.8


def test_stmc_file_through_the_command_with_an_mdm_checkpoint(tmp_path):
    checkpoint = save_official_checkpoint(tmp_path / "ckpt", TINY_ARGS, MDMNetwork(MDMConfig(latent_dim=16, layers=1)))
    meta, clip = save_identity_meta(tmp_path / "meta"), save_clip_text_model(tmp_path / "clip")
    timeline = tmp_path / "jog.txt"
    timeline.write_text(STMC)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["motion", str(timeline), "--model", str(checkpoint), "--meta", str(meta),
                                       "--clip", str(clip), "--steps", "3", "--out", str(out), "--formats", "npy,json"])
    assert result.exit_code == 0, result.output
    assert np.load(out / "results.npy", allow_pickle=True).item()["motion"].shape == (1, 22, 3, 60)
    tracks = json.loads((out / "motion.json").read_text())["meta"]["tracks"]
    assert [(t["text"], t["start"], t["end"], t["parts"]) for t in tracks] == [
        ("a person jogs in place", 0, 60, ["legs"]), ("a person raises the right hand", 20, 50, ["right arm"])]


def test_a_clashing_timeline_is_refused_by_the_command_in_one_line(tmp_path, tiny_embedded):
    timeline = tmp_path / "clash.txt"
    timeline.write_text("walk # 0 # 4 # legs\nkick # 1 # 2 # legs # right arm\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["motion", str(timeline), "--model", str(tiny_embedded), "--out", str(out)])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert f"{timeline}:2" in result.output and "claims the legs from 1 s to 2 s" in result.output
    assert len(result.output.strip().splitlines()) == 1 and not out.exists()


def test_timelines_sample_with_the_models_own_ddim_unless_asked(tiny_embedded):
    backend = load_embedded(tiny_embedded)
    assert backend.default_scheduler == "ddim"
    timeline = parse_script(STMC)
    own = generate_motion(timeline, backend, LongMotionSettings.named("syncsde", seed=0), progress=False)[0]
    asked = generate_motion(timeline, backend, LongMotionSettings.named("syncsde", seed=0, scheduler="ddim"), progress=False)[0]
    sequence = generate_motion(parse_script("a person walks | 3s\n"), backend, LongMotionSettings.named("syncsde", seed=0),
                               progress=False)[0]
    assert "scheduler" not in own.meta and asked.meta["scheduler"] == "ddim" and sequence.meta["scheduler"] == "ddim"
    assert not np.array_equal(own.positions, asked.positions)


def test_a_loop_of_a_tiny_model_wraps_its_windows(tiny_embedded):
    motion = generate_motion(parse_script("@loop\na person walks | 3s\n"), load_embedded(tiny_embedded),
                             LongMotionSettings.named("syncsde", seed=0), progress=False)[0]
    assert motion.positions.shape == (60, 22, 3) and motion.meta["loop"]
    assert len(motion.meta["window_texts"]) >= 2


@pytest.mark.skipif(not default_model_path().exists(), reason="models/embedded.safetensors is not there")
def test_a_looped_walk_plays_on_repeat_without_a_seam():
    backend = load_default()
    steps = {}
    for loop in (True, False):
        script = parse_script(("@loop\n" if loop else "") + "a person walks forward | 0s-6s\n")
        positions = generate_motion(script, backend, LongMotionSettings.named("syncsde", seed=0), progress=False)[0].positions
        played = replay(positions, 2)
        step = np.linalg.norm(np.diff(played, axis=0), axis=-1).max(-1)  # largest joint move per frame
        accel = np.linalg.norm(np.diff(played, n=2, axis=0), axis=-1).max(-1)
        length = len(positions)
        steps[loop] = (step[length - 1] / np.median(step), accel[length - 2:length].max() / np.median(accel))
    # Looped: the step and the change of velocity across the wrap are like any other frame's (measured 1.14 and 1.56
    # times the median); the same walk not looped jumps back to its first pose there (4.2 and 4.8).
    assert steps[True][0] < 1.5 and steps[True][1] < 2.0
    assert steps[False][0] > 2 * steps[True][0]
