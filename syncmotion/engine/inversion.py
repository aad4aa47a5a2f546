"""DDIM inversion: a clean latent carried up the deterministic DDIM path to x_T, every state kept.

The sampler's DDIM steps t_0 > t_1 > ... > t_{N-1} go down from level ᾱ(t_k) to ᾱ(prev(t_k)) (prev(t) = t − T/N, or
the scheduler's final level below 0). Inversion takes each of those steps backward, last first, with the model's ε
at the step's timestep t_k (as diffusers' DDIMInverseScheduler and the editing papers do); the states it passes
through are the trajectory a reconstruction can follow step by step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from tqdm.auto import tqdm

from .coefficients import to_epsilon_and_x0
from .sampler import Denoiser


@dataclass(frozen=True)
class Inversion:
    """An inverted DDIM path: states[k] is the latent at timesteps[k] (k < N), states[N] the clean latent."""

    states: torch.Tensor  # [N + 1, B, *latent] from x_T down to the clean latent, the sampler's order
    timesteps: torch.Tensor  # [N] the sampler's DDIM timesteps, descending
    model_calls: int

    @property
    def steps(self) -> int:
        """N, the number of DDIM steps the path was made for."""
        return int(self.timesteps.numel())

    @property
    def noise(self) -> torch.Tensor:
        """x_T, where sampling starts to come back to the clean latent."""
        return self.states[0]


def ddim_levels(scheduler, steps: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(timesteps [N] descending, ᾱ at each step's timestep [N], ᾱ of the level each DDIM step lands on [N])."""
    if not hasattr(scheduler, "final_alpha_cumprod"):
        raise ValueError(f"DDIM inversion needs a DDIM scheduler, got {type(scheduler).__name__}")
    scheduler = scheduler.__class__.from_config(scheduler.config)
    scheduler.set_timesteps(steps)
    timesteps = scheduler.timesteps.clone()
    alphas = scheduler.alphas_cumprod
    if int(timesteps.max()) >= len(alphas):
        raise ValueError(f"{steps} DDIM steps reach past the model's {len(alphas)} training timesteps; use fewer steps")
    # DDIM's own rule for where a step lands (t − T/N, the final level below 0), which is the next timestep for the
    # usual spacings but not for every one: inverting the step it really takes keeps the round trip exact.
    landing = timesteps - scheduler.config.num_train_timesteps // steps
    after = torch.stack([alphas[t] if t >= 0 else torch.as_tensor(scheduler.final_alpha_cumprod) for t in landing.tolist()])
    return timesteps, alphas[timesteps].double(), after.double()


def ddim_invert(
    denoiser: Denoiser, scheduler, latent: torch.Tensor, conds: Sequence[Any], steps: int = 50, progress: bool = True,
) -> Inversion:
    """The DDIM path from a clean latent [B, *latent] up to x_T under `conds` (one per batch item), model as given."""
    if steps <= 0:
        raise ValueError(f"steps must be positive, got {steps}")
    if len(conds) != latent.shape[0]:
        raise ValueError(f"got {len(conds)} conditions for a batch of {latent.shape[0]}; give one per latent")
    timesteps, at_step, after_step = ddim_levels(scheduler, steps)
    state = latent.double()
    states = [state]
    for index in tqdm(range(steps - 1, -1, -1), desc="inversion", disable=not progress, leave=False):
        timestep = timesteps[index]
        current, target = after_step[index], at_step[index]
        output = denoiser(state.float(), timestep.expand(state.shape[0]), list(conds)).double()
        epsilon, x0 = to_epsilon_and_x0(output, state, denoiser.prediction_type, float(current.sqrt()),
                                        float((1 - current).sqrt()))
        state = target.sqrt() * x0 + (1 - target).sqrt() * epsilon
        states.append(state)
    return Inversion(torch.stack(states[::-1]).float(), timesteps, steps)
