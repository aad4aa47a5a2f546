"""Constraints on the clean estimate: a strategy wrapper that corrects every window's x̂0 before the strategy steps.

Inpainting (hold part of the canvas to known content) and reconstruction guidance (move x̂0 down the gradient of a loss
on the merged canvas) are both corrections of x̂0. The wrapped strategy then steps from the corrected x̂0 (its ε is
re-derived from the current sample), so the windows keep their synchronization and the constraint rides on it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import torch

from .strategies import StepState, Strategy

# A correction: every window's x̂0 [B, N, *lat, *window_dims] and the step's state in, the corrected x̂0 out.
Correction = Callable[[torch.Tensor, StepState], torch.Tensor]
# A loss on the merged canvas [B, *lat, *canvas_dims]: one non-negative number per sample, [B].
CanvasLoss = Callable[[torch.Tensor], torch.Tensor]


class Guided:
    """`inner` stepping from x̂0 after the `corrections`, applied in order, have changed it."""

    def __init__(self, inner: Strategy, corrections: Sequence[Correction]) -> None:
        self.inner = inner
        self.corrections = list(corrections)

    @property
    def name(self) -> str:
        """The wrapped strategy's name: the constraints are not a synchronization rule of their own."""
        return self.inner.name

    def __getattr__(self, attribute: str) -> object:
        # The wrapped strategy's parameters (inv_lambda, schedule) read through, as run records ask for them.
        if attribute == "inner":
            raise AttributeError(attribute)
        return getattr(self.inner, attribute)

    def step(self, state: StepState) -> torch.Tensor:
        """x_{t-1} of every window."""
        x0 = state.x0
        for correct in self.corrections:
            x0 = correct(x0, state)
        epsilon = (state.sample - state.a * x0) / state.b
        return self.inner.step(dataclasses.replace(state, x0=x0, epsilon=epsilon))


def hold(known: torch.Tensor, keep: torch.Tensor) -> Correction:
    """x̂0 ← keep ⊙ known + (1 − keep) ⊙ x̂0 on every window.

    `known` and `keep` are canvases [B, *lat, *canvas_dims] (size-1 dims broadcast), cropped by the layout.
    """
    if float(keep.min()) < 0 or float(keep.max()) > 1:
        raise ValueError("the keep weights must lie in [0, 1] (1 = keep the known content)")

    cropped: list = [None, None, None]  # the layout last seen, and the known content and weights cut for it

    def correct(x0: torch.Tensor, state: StepState) -> torch.Tensor:
        # Cropped once per layout: the same windows are held at every step.
        if cropped[0] is not state.layout:
            cropped[:] = [state.layout, state.layout.crop(known.to(x0)), state.layout.crop(keep.to(x0))]
        _, known_windows, keep_windows = cropped
        return keep_windows * known_windows + (1 - keep_windows) * x0

    return correct


def _blurred(gradient: torch.Tensor, sigma: float) -> torch.Tensor:
    """`gradient` [..., W] convolved along its last axis with a Gaussian of `sigma` positions (zero beyond the ends)."""
    radius = max(int(3 * sigma + 0.5), 1)
    taps = torch.arange(-radius, radius + 1, dtype=gradient.dtype)
    kernel = torch.exp(-0.5 * (taps / sigma) ** 2)
    flat = gradient.reshape(-1, 1, gradient.shape[-1])
    return torch.nn.functional.conv1d(flat, (kernel / kernel.sum()).view(1, 1, -1), padding=radius).reshape(gradient.shape)


def gradient_guidance(loss: CanvasLoss, strength: float = 1.0, iterations: int = 1, stitch: str = "crossfade",
                      spread: float = 0.0) -> Correction:
    """x̂0 moved down the gradient of a squared-error loss(canvas(x̂0)) by Polyak steps, `iterations` times per step.

    For a sum of squared residuals L, the step x̂0 ← x̂0 − 2 · strength · L / |∇L|² · ∇L (per sample) removes the
    `strength` share of a residual linear in x̂0 along the gradient, the smallest change that does; so it needs no rate
    tuned to the loss' units (metres here, pixels there). The gradient flows through the layout's merge, so each
    window moves by its share of the canvas. With `spread` > 0 the step follows the gradient blurred along the windows'
    last axis by a Gaussian of that many positions (a smoother descent direction; the step is sized along it the same
    way): a constraint on one frame then bends its neighbours with it instead of kinking the motion there.
    """
    if not 0 < strength <= 1 or iterations < 1 or not spread >= 0:
        raise ValueError(f"guidance needs a strength in (0, 1], at least one iteration and a spread >= 0, got {strength}, "
                         f"{iterations} and {spread}")

    def correct(x0: torch.Tensor, state: StepState) -> torch.Tensor:
        current = x0.detach()
        with torch.enable_grad():
            for _ in range(iterations):
                current.requires_grad_(True)
                values = loss(state.layout.merge(current, stitch))  # [B]
                (gradient,) = torch.autograd.grad(values.sum(), current)
                direction = _blurred(gradient, spread) if spread > 0 else gradient
                slopes = (gradient * direction).flatten(1).sum(1).clamp_min(1e-12)
                step = (2 * strength * values.detach() / slopes).reshape(-1, *[1] * (gradient.dim() - 1)).to(current.dtype)
                current = (current - step * direction).detach()
        return current

    return correct
