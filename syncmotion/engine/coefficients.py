"""How a scheduler's sample relates to x0 and ε at a timestep: x_t = a·x0 + b·ε."""

from __future__ import annotations

import torch


def noise_coefficients(scheduler, timestep: torch.Tensor | float, step_index: int) -> tuple[float, float]:
    """(a, b) with x_t = a·x0 + b·ε in the scheduler's sample space at this step."""
    if float(scheduler.init_noise_sigma) > 1.0 and hasattr(scheduler, "sigmas"):
        # Sigma-parameterised schedulers (Euler, Heun, ...) keep x_t = x0 + σ·ε.
        return 1.0, float(scheduler.sigmas[step_index])
    alpha_bar = float(alpha_bar_at(scheduler, timestep))
    return alpha_bar**0.5, (1.0 - alpha_bar) ** 0.5


def alpha_bar_at(scheduler, timestep: torch.Tensor | float) -> torch.Tensor:
    """ᾱ at a (possibly fractional) timestep, interpolated linearly between training steps."""
    alphas = scheduler.alphas_cumprod
    t = torch.as_tensor(timestep, dtype=torch.float64).clamp(0, len(alphas) - 1)
    low = t.floor().long()
    high = torch.clamp(low + 1, max=len(alphas) - 1)
    frac = t - low
    return (alphas[low].double() * (1 - frac) + alphas[high].double() * frac).float()


def to_epsilon_and_x0(
    output: torch.Tensor, sample: torch.Tensor, prediction_type: str, a: float, b: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Model output of any prediction type as (ε, x0) for the sample x_t = a·x0 + b·ε."""
    if prediction_type == "epsilon":
        return output, (sample - b * output) / a
    if prediction_type == "sample":
        return (sample - a * output) / b, output
    if prediction_type == "v_prediction":
        # v = a·ε − b·x0 for variance-preserving a² + b² = 1.
        return a * output + b * sample, a * sample - b * output
    raise ValueError(f"unknown prediction_type {prediction_type!r}; use epsilon, sample or v_prediction")
