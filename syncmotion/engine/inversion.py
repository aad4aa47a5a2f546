"""DDIM inversion: a clean latent carried up the deterministic DDIM path to x_T, every state kept.

The sampler's DDIM steps t_0 > t_1 > ... > t_{N-1} go down from level ᾱ(t_k) to ᾱ(prev(t_k)) (prev(t) = t − T/N, or
the scheduler's final level below 0). Inversion walks the same levels upward, each step using the model's ε at the
level it goes to, as diffusers' DDIMInverseScheduler and the editing papers do; the states it passes through are
the trajectory a reconstruction can follow step by step.
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


def ddim_levels(scheduler, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(timesteps [N] descending, ᾱ of the N + 1 levels the DDIM steps pass: ᾱ(t_0), ..., ᾱ(t_{N-1}), final)."""
    if not hasattr(scheduler, "final_alpha_cumprod"):
        raise ValueError(f"DDIM inversion needs a DDIM scheduler, got {type(scheduler).__name__}")
    scheduler = scheduler.__class__.from_config(scheduler.config)
    scheduler.set_timesteps(steps)
    timesteps = scheduler.timesteps.clone()
    if int(timesteps.max()) >= len(scheduler.alphas_cumprod):
        raise ValueError(f"{steps} DDIM steps reach past the model's {len(scheduler.alphas_cumprod)} training timesteps; "
                         "use fewer steps")
    # The level DDIM's last step lands on, by its own rule for the previous timestep.
    last = int(timesteps[-1]) - scheduler.config.num_train_timesteps // steps
    final = scheduler.alphas_cumprod[last] if last >= 0 else scheduler.final_alpha_cumprod
    levels = torch.cat([scheduler.alphas_cumprod[timesteps], torch.as_tensor(final).reshape(1)])
    return timesteps, levels.double()


def ddim_invert(
    denoiser: Denoiser, scheduler, latent: torch.Tensor, conds: Sequence[Any], steps: int = 50, progress: bool = True,
) -> Inversion:
    """The DDIM path from a clean latent [B, *latent] up to x_T under `conds` (one per batch item), model as given."""
    if steps <= 0:
        raise ValueError(f"steps must be positive, got {steps}")
    if len(conds) != latent.shape[0]:
        raise ValueError(f"got {len(conds)} conditions for a batch of {latent.shape[0]}; give one per latent")
    timesteps, levels = ddim_levels(scheduler, steps)
    state = latent.double()
    states = [state]
    for index in tqdm(range(steps - 1, -1, -1), desc="inversion", disable=not progress, leave=False):
        timestep = timesteps[index]
        current, target = levels[index + 1], levels[index]
        output = denoiser(state.float(), timestep.expand(state.shape[0]), list(conds)).double()
        epsilon, x0 = to_epsilon_and_x0(output, state, denoiser.prediction_type, float(current.sqrt()),
                                        float((1 - current).sqrt()))
        state = target.sqrt() * x0 + (1 - target).sqrt() * epsilon
        states.append(state)
    return Inversion(torch.stack(states[::-1]).float(), timesteps, steps)
