"""engine.ddim.DDIM against diffusers' DDIMScheduler: the same timesteps and the same steps, bit for bit."""

from __future__ import annotations

import pytest
import torch
from diffusers import DDIMScheduler

from syncmotion.engine.ddim import DDIM
from syncmotion.engine.schedulers import scheduler_named

SCHEDULES = [
    {"num_train_timesteps": 1000, "beta_schedule": "squaredcos_cap_v2"},
    {"num_train_timesteps": 100, "beta_schedule": "linear", "beta_start": 0.001, "beta_end": 0.2},
]


def pair(**settings) -> tuple[DDIM, DDIMScheduler]:
    return DDIM(**settings), DDIMScheduler(clip_sample=False, **settings)


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("spacing", ["leading", "trailing", "linspace"])
@pytest.mark.parametrize("prediction_type", ["epsilon", "sample", "v_prediction"])
@pytest.mark.parametrize("set_alpha_to_one", [True, False])
def test_sampling_matches_diffusers(schedule, spacing, prediction_type, set_alpha_to_one):
    ours, theirs = pair(**schedule, timestep_spacing=spacing, prediction_type=prediction_type,
                        set_alpha_to_one=set_alpha_to_one)
    assert torch.equal(ours.alphas_cumprod, theirs.alphas_cumprod)
    generator = torch.Generator().manual_seed(0)
    for steps in (1, 7, 50):
        ours.set_timesteps(steps)
        theirs.set_timesteps(steps)
        assert torch.equal(ours.timesteps, theirs.timesteps)
        sample = torch.randn(3, 5, generator=generator)
        ours_sample = theirs_sample = sample
        for timestep in ours.timesteps:
            output = torch.randn(3, 5, generator=generator)
            ours_sample, ours_x0 = ours.step(output, timestep, ours_sample)
            theirs_sample, theirs_x0 = theirs.step(output, timestep, theirs_sample, return_dict=False)
            assert torch.equal(ours_sample, theirs_sample) and torch.equal(ours_x0, theirs_x0)


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_add_noise_matches_diffusers(schedule):
    ours, theirs = pair(**schedule)
    clean, noise = torch.randn(4, 2, 6), torch.randn(4, 2, 6)
    timesteps = torch.tensor([0, 5, 50, 99])
    assert torch.equal(ours.add_noise(clean, noise, timesteps), theirs.add_noise(clean, noise, timesteps))


def test_config_reads_like_diffusers_and_rebuilds():
    ddim = DDIM(num_train_timesteps=100, beta_schedule="linear", prediction_type="sample")
    assert ddim.config.num_train_timesteps == ddim.config["num_train_timesteps"] == 100
    copy = DDIM.from_config(ddim.config, prediction_type="epsilon", clip_sample=False)  # unknown keys are ignored
    assert copy.config.prediction_type == "epsilon" and torch.equal(copy.alphas_cumprod, ddim.alphas_cumprod)
    linspace = scheduler_named(ddim, "ddim", "linspace")
    assert isinstance(linspace, DDIM) and linspace.config.timestep_spacing == "linspace"
    linspace.set_timesteps(10)
    assert int(linspace.timesteps[0]) == 99 and int(linspace.timesteps[-1]) == 0


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="beta_schedule"):
        DDIM(beta_schedule="scaled_linear")
    with pytest.raises(ValueError, match="prediction_type"):
        DDIM(prediction_type="flow")
    with pytest.raises(ValueError, match="timestep_spacing"):
        DDIM(timestep_spacing="karras")
    ddim = DDIM(num_train_timesteps=100)
    with pytest.raises(ValueError, match="choose 1 to 100"):
        ddim.set_timesteps(101)
    with pytest.raises(RuntimeError, match="set_timesteps"):
        ddim.step(torch.zeros(1), 5, torch.zeros(1))
