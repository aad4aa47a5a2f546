"""DoubleTake on syncmotion's windows: PriorMDM's soft masks, a second take that only touches transitions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from syncmotion.backends.embedded import load_embedded, save_embedded
from syncmotion.backends.mdm_network import MDMConfig, MDMNetwork
from syncmotion.pipelines.doubletake import BLEND_FRAMES, second_take, transition_mask, handshake_spans
from syncmotion.pipelines.long_motion import LongMotionSettings, generate_motion
from syncmotion.motion.script import parse_script


@pytest.fixture(scope="module")
def backend(tmp_path_factory):
    torch.manual_seed(0)
    network = MDMNetwork(MDMConfig(latent_dim=16, ff_size=32, layers=1, text_dim=384, max_positions=200))
    path = tmp_path_factory.mktemp("embedded") / "tiny.safetensors"
    settings = {"window": 40, "noise_schedule": "cosine", "diffusion_steps": 100, "sample_steps": 10}
    save_embedded(path, network, torch.zeros(263), torch.ones(263), settings)
    return load_embedded(path)


def test_second_take_windows_are_centred_on_each_handshake():
    assert handshake_spans([0, 60, 120], 80, 200) == [(30, 60, 80), (90, 120, 140)]
    assert handshake_spans([0, 20], 80, 100) == [(10, 20, 80)]
    assert handshake_spans([0], 80, 80) == []


def test_mask_is_priormdm_blend_around_a_free_handshake():
    mask = transition_mask(30, 60, 80, 80)  # canvas frames 30..109, handshake 60..79
    assert mask[:20].tolist() == [1.0] * 20 and mask[50 + BLEND_FRAMES:].tolist() == [1.0] * 20
    np.testing.assert_allclose(mask[20:30].numpy(), 0.85 - 0.085 * np.arange(10), atol=1e-6)
    assert mask[30:50].tolist() == [0.0] * 20
    np.testing.assert_allclose(mask[50:60].numpy(), 0.085 * np.arange(10), atol=1e-6)
    # A handshake too long for full ramps keeps ramps that fit the window.
    long = transition_mask(0, 5, 70, 80)
    assert long[5:70].max() == 0 and long.max() == 1 and (long[:5] > 0).all()


def test_second_take_changes_the_transitions_and_nothing_else(backend):
    starts, window, length = [0, 30, 60], 40, 100
    canvas = torch.randn(2, 263, 1, length, generator=torch.Generator().manual_seed(1))
    refined, calls, evaluations = second_take(canvas, starts, window, backend, 10, torch.Generator().manual_seed(2),
                                              progress=False)
    held = torch.ones(length, dtype=torch.bool)
    for start, first, last in handshake_spans(starts, window, length):
        held[start:start + window] &= transition_mask(start, first, last, window) == 1
    assert torch.equal(refined[..., held], canvas[..., held])
    assert not torch.allclose(refined[..., 30:40], canvas[..., 30:40], atol=1e-2)
    assert calls == 9 and evaluations == 9 * 2  # a tenth of the 10 steps skipped, 2 transitions


def test_doubletake_makes_one_deterministic_motion_with_more_model_calls(backend):
    script = parse_script("walk | 3s\njump | 2s\nwave | 70f\n")
    runs = [generate_motion(script, backend, LongMotionSettings.named(strategy, seed=3, overlap=20), progress=False)[0]
            for strategy in ("doubletake", "doubletake", "handshake")]
    assert runs[0].positions.shape == (script.num_frames, 22, 3) and np.isfinite(runs[0].positions).all()
    np.testing.assert_array_equal(runs[0].positions, runs[1].positions)
    assert not np.array_equal(runs[0].positions, runs[2].positions)
    assert runs[0].meta["model_calls"] == 10 + 9 and runs[2].meta["model_calls"] == 10
    windows = len(runs[0].meta["window_texts"])
    assert windows == 8 and runs[0].meta["window_evaluations"] == 10 * windows + 9 * (windows - 1)


def test_unknown_strategy_names_the_choices():
    with pytest.raises(ValueError, match="doubletake"):
        LongMotionSettings.named("tripletake")
