"""Deterministic DDIM over a trained noise schedule, with the scheduler interface the engine uses.

diffusers' DDIMScheduler does the same arithmetic, but importing diffusers imports torch._dynamo (1.6 s on a 2-core
CPU, most of a 4 s motion's start-up) before the first step. This class computes what DDIMScheduler computes for the
settings motion models use (eta 0, no clipping), step for step, so the default motion path needs no diffusers;
tests/test_ddim.py compares the two bit for bit. Other solvers still come from diffusers (engine/schedulers.py).
"""

from __future__ import annotations

import inspect
import math
from typing import Any

import numpy as np
import torch

BETA_SCHEDULES = ("squaredcos_cap_v2", "linear")
PREDICTION_TYPES = ("epsilon", "sample", "v_prediction")
TIMESTEP_SPACINGS = ("leading", "trailing", "linspace")


class ScheduleConfig(dict):
    """A DDIM's settings, read as `config["key"]` or `config.key` like a diffusers config."""

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None


def cosine_betas(num_train_timesteps: int, max_beta: float = 0.999) -> torch.Tensor:
    """Betas of the cosine schedule (improved DDPM; diffusers' "squaredcos_cap_v2"), float32."""

    def alpha_bar(t: float) -> float:
        return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2

    steps = num_train_timesteps
    betas = [min(1 - alpha_bar((i + 1) / steps) / alpha_bar(i / steps), max_beta) for i in range(steps)]
    return torch.tensor(betas, dtype=torch.float32)


class DDIM:
    """DDIM sampling (eta 0) of a model trained on `num_train_timesteps` noise levels."""

    init_noise_sigma = 1.0

    def __init__(self, num_train_timesteps: int = 1000, beta_schedule: str = "squaredcos_cap_v2",
                 beta_start: float = 0.0001, beta_end: float = 0.02, prediction_type: str = "epsilon",
                 set_alpha_to_one: bool = True, steps_offset: int = 0, timestep_spacing: str = "leading") -> None:
        if beta_schedule not in BETA_SCHEDULES:
            raise ValueError(f"unknown beta_schedule {beta_schedule!r}; choose one of {', '.join(BETA_SCHEDULES)}")
        if prediction_type not in PREDICTION_TYPES:
            raise ValueError(f"unknown prediction_type {prediction_type!r}; choose one of {', '.join(PREDICTION_TYPES)}")
        if timestep_spacing not in TIMESTEP_SPACINGS:
            raise ValueError(f"unknown timestep_spacing {timestep_spacing!r}; choose one of {', '.join(TIMESTEP_SPACINGS)}")
        self.config = ScheduleConfig(
            num_train_timesteps=num_train_timesteps, beta_schedule=beta_schedule, beta_start=beta_start,
            beta_end=beta_end, prediction_type=prediction_type, set_alpha_to_one=set_alpha_to_one,
            steps_offset=steps_offset, timestep_spacing=timestep_spacing,
        )
        if beta_schedule == "linear":
            self.betas = torch.linspace(beta_start, beta_end, num_train_timesteps, dtype=torch.float32)
        else:
            self.betas = cosine_betas(num_train_timesteps)
        self.alphas_cumprod = torch.cumprod(1.0 - self.betas, dim=0)
        # The step after t = 0 lands on clean data (ᾱ = 1), or stays at ᾱ_0 as some models were trained.
        self.final_alpha_cumprod = torch.tensor(1.0) if set_alpha_to_one else self.alphas_cumprod[0]
        self.num_inference_steps: int | None = None
        self.timesteps = torch.arange(num_train_timesteps - 1, -1, -1)

    @classmethod
    def from_config(cls, config: dict[str, Any], **overrides: Any) -> DDIM:
        """A DDIM with `config`'s settings (keys it does not know are ignored), some replaced by `overrides`."""
        known = inspect.signature(cls).parameters
        return cls(**{key: value for key, value in {**config, **overrides}.items() if key in known})

    def set_timesteps(self, num_inference_steps: int) -> None:
        """Choose the `num_inference_steps` timesteps to sample at, spaced as the config says."""
        trained = self.config.num_train_timesteps
        if not 0 < num_inference_steps <= trained:
            raise ValueError(f"{num_inference_steps} steps: choose 1 to {trained}, the timesteps the model was trained with")
        self.num_inference_steps = num_inference_steps
        spacing = self.config.timestep_spacing
        if spacing == "linspace":
            timesteps = np.linspace(0, trained - 1, num_inference_steps).round()[::-1].astype(np.int64)
        elif spacing == "leading":
            timesteps = (np.arange(num_inference_steps) * (trained // num_inference_steps))[::-1] + self.config.steps_offset
        else:
            timesteps = np.round(np.arange(trained, 0, -trained / num_inference_steps)).astype(np.int64) - 1
        self.timesteps = torch.from_numpy(timesteps.astype(np.int64).copy())

    def scale_model_input(self, sample: torch.Tensor, timestep: torch.Tensor | int | None = None) -> torch.Tensor:
        """The model's input at `timestep`: the sample itself (DDIM samples are variance preserving)."""
        return sample

    def add_noise(self, original: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        """`original` noised to the level of each sample's timestep (one per leading batch entry)."""
        alphas = self.alphas_cumprod.to(dtype=original.dtype)[timesteps.to(original.device)]
        shape = (-1,) + (1,) * (original.dim() - 1)
        return alphas.sqrt().reshape(shape) * original + (1 - alphas).sqrt().reshape(shape) * noise

    def step(self, model_output: torch.Tensor, timestep: torch.Tensor | int, sample: torch.Tensor,
             return_dict: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """(x at the previous timestep, predicted x0) from the model's output at `timestep`."""
        # return_dict is taken so that callers of diffusers' step work unchanged; the answer is always the tuple.
        if self.num_inference_steps is None:
            raise RuntimeError("call set_timesteps before step")
        # The previous timestep is one stride back whatever the spacing, as diffusers' DDIMScheduler takes it.
        previous = timestep - self.config.num_train_timesteps // self.num_inference_steps
        alpha = self.alphas_cumprod[timestep]
        alpha_previous = self.alphas_cumprod[previous] if previous >= 0 else self.final_alpha_cumprod
        beta = 1 - alpha
        prediction = self.config.prediction_type
        if prediction == "epsilon":
            x0, epsilon = (sample - beta**0.5 * model_output) / alpha**0.5, model_output
        elif prediction == "sample":
            x0, epsilon = model_output, (sample - alpha**0.5 * model_output) / beta**0.5
        else:
            x0 = alpha**0.5 * sample - beta**0.5 * model_output
            epsilon = alpha**0.5 * model_output + beta**0.5 * sample
        return alpha_previous**0.5 * x0 + (1 - alpha_previous) ** 0.5 * epsilon, x0
