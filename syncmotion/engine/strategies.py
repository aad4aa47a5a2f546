"""Synchronization strategies: each turns every window's x_t and model output into x_{t-1}."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from collections.abc import Mapping
from typing import Any, Protocol

import torch

from .windows import Layout


@dataclass
class StepState:
    """Everything a strategy may use at one denoising step; tensors are [B, N, *lat, *window_dims]."""

    sample: torch.Tensor
    epsilon: torch.Tensor
    x0: torch.Tensor
    timestep: torch.Tensor
    step_index: int
    num_steps: int
    first_timestep: float
    a: float
    b: float
    scheduler: Any  # a diffusers scheduler, stepping from ε
    layout: Layout
    generator: torch.Generator | None


class Strategy(Protocol):
    """One synchronization rule."""

    name: str

    def step(self, state: StepState) -> torch.Tensor:
        """x_{t-1} of every window."""


# Strategies by name, for command lines and configs; each class takes its own parameters as keyword arguments.
STRATEGIES: dict[str, type] = {}


def register_strategy(strategy_class: type) -> type:
    """Make a strategy class reachable by its `name` (usable as a class decorator)."""
    name = getattr(strategy_class, "name", None)
    if not isinstance(name, str) or not name:
        raise ValueError(f"{strategy_class.__name__} needs a class attribute `name` to be registered")
    if STRATEGIES.get(name, strategy_class) is not strategy_class:
        raise ValueError(f"a strategy called {name!r} is already registered ({STRATEGIES[name].__name__})")
    STRATEGIES[name] = strategy_class
    return strategy_class


def scheduler_step(state: StepState, epsilon: torch.Tensor) -> torch.Tensor:
    """One ordinary scheduler step of all windows at once from their ε."""
    shape = state.sample.shape
    kwargs: dict[str, Any] = {"return_dict": False}
    if state.generator is not None and "generator" in inspect.signature(state.scheduler.step).parameters:
        kwargs["generator"] = state.generator
    previous = state.scheduler.step(epsilon.flatten(0, 1), state.timestep, state.sample.flatten(0, 1), **kwargs)[0]
    return previous.reshape(shape)


@register_strategy
class Independent:
    """No synchronization: every window denoises on its own."""

    name = "independent"

    def step(self, state: StepState) -> torch.Tensor:
        """x_{t-1} of every window."""
        return scheduler_step(state, state.epsilon)


def step_from_x0(state: StepState, x0: torch.Tensor) -> torch.Tensor:
    """One scheduler step of all windows toward a replaced x̂0 (its ε re-derived from the current sample)."""
    return scheduler_step(state, (state.sample - state.a * x0) / state.b)


@register_strategy
class MultiDiffusion:
    """Step every window, then average the windows' x_{t-1} on the canvas and crop back."""

    name = "multidiffusion"
    merge_mode = "mean"

    def step(self, state: StepState) -> torch.Tensor:
        """x_{t-1} of every window."""
        previous = scheduler_step(state, state.epsilon)
        return state.layout.crop(state.layout.merge(previous, self.merge_mode))


@register_strategy
class Handshake(MultiDiffusion):
    """Step every window, then blend the windows' x_{t-1} across each overlap with linear cross-fade weights.

    DoubleTake's first take (PriorMDM): consecutive windows share a "handshake" that, after every step, is the
    linear blend of the earlier window's end and the later window's start.
    """

    name = "handshake"
    merge_mode = "crossfade"


class Inpaint:
    """Hold part of every window to known content: x̂0 becomes M ⊙ known + (1 − M) ⊙ x̂0 before each step.

    `known` is [B, N, *lat, *window_dims] (or broadcastable to the windows), `mask` in [0, 1] broadcastable to them;
    fractional values blend, as in DoubleTake's soft-masked second take.
    """

    name = "inpaint"

    def __init__(self, known: torch.Tensor, mask: torch.Tensor) -> None:
        if float(mask.min()) < 0 or float(mask.max()) > 1:
            raise ValueError("the inpainting mask must lie in [0, 1] (1 = keep the known content)")
        self.known = known
        self.mask = mask

    def step(self, state: StepState) -> torch.Tensor:
        """x_{t-1} of every window."""
        mask = self.mask.to(state.x0)
        return step_from_x0(state, mask * self.known.to(state.x0) + (1 - mask) * state.x0)


@register_strategy
class SyncTweedies:
    """Average the windows' Tweedie estimate x̂0 on the canvas, crop back, then step from it."""

    name = "synctweedies"

    def step(self, state: StepState) -> torch.Tensor:
        """x_{t-1} of every window."""
        return step_from_x0(state, state.layout.crop(state.layout.merge(state.x0, "mean")))


@register_strategy
class PrecisionTweedies:
    """Fuse the windows' Tweedie x̂0 on the canvas, each window weighted by its cross-fade share to `power`, then step.

    A window's x̂0 near its edge misses the context beyond the edge, so it is shrunk toward the prior; an equal average
    (SyncTweedies, and MultiDiffusion with DDIM) carries that shrinkage into every overlap and the sample loses variance
    there. Weighting each window by how deep inside it a position lies approximates the inverse error variance of its
    estimate; the exponent 4 matches the minimum-error weights of the Gaussian oracle (docs/variance.md).
    """

    name = "precisiontweedies"

    def __init__(self, power: float = 4.0) -> None:
        if not 0 <= power <= 64:
            raise ValueError(f"power must lie in [0, 64] (got {power}); 0 is SyncTweedies' mean, 4 the default")
        self.power = float(power)

    def step(self, state: StepState) -> torch.Tensor:
        """x_{t-1} of every window."""
        return step_from_x0(state, state.layout.crop(state.layout.merge_interior(state.x0, self.power)))


LAMBDA_SCHEDULES = ("linear", "constant")


@register_strategy
class SyncSDE:
    """SyncSDE: each window's ε is corrected toward X̃ on its mask, with 1/λ_t = (1/λ)·t/T by default.

    ε' = ε − M ⊙ (X̃ − y_t) / (λ_t · b_t); with DDIM this is exactly y_{t-1} = DDIM + (γ_t/λ_t) M ⊙ (X̃ − y_t).
    """

    name = "syncsde"

    def __init__(self, inv_lambda: float = 5.0, schedule: str = "linear") -> None:
        if not inv_lambda > 0:
            raise ValueError(f"inv_lambda must be positive (got {inv_lambda}); the paper's default is 5")
        if schedule not in LAMBDA_SCHEDULES:
            raise ValueError(f"unknown lambda schedule {schedule!r}; choose one of {', '.join(LAMBDA_SCHEDULES)}")
        self.inv_lambda = float(inv_lambda)
        self.schedule = schedule

    def inv_lambda_at(self, timestep: float | torch.Tensor, first_timestep: float) -> float:
        """1/λ_t at this timestep."""
        # A single step at t = 0 has no schedule to follow: it gets the full strength.
        if self.schedule == "constant" or float(first_timestep) <= 0:
            return self.inv_lambda
        return self.inv_lambda * float(timestep) / float(first_timestep)

    def step(self, state: StepState) -> torch.Tensor:
        """x_{t-1} of every window."""
        weight = self.inv_lambda_at(state.timestep, state.first_timestep) / state.b
        epsilon = state.epsilon - weight * state.layout.pull(state.sample)
        return scheduler_step(state, epsilon)


def make_strategy(strategy: str | Strategy, **parameters: Any) -> Strategy:
    """A strategy object from its registered name and its own parameters (an object is returned as it is)."""
    if not isinstance(strategy, str):
        if parameters:
            raise ValueError(f"parameters {sorted(parameters)} given with a ready-made {strategy.name} strategy; set them on it")
        return strategy
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    accepted = inspect.signature(STRATEGIES[strategy]).parameters
    unknown = sorted(set(parameters) - set(accepted))
    if unknown:
        raise ValueError(f"strategy {strategy!r} takes no {', '.join(unknown)}" +
                         (f"; it takes {', '.join(accepted)}" if accepted else "; it has no parameters"))
    return STRATEGIES[strategy](**parameters)


def strategy_from_options(name: str, options: Mapping[str, Any]) -> Strategy:
    """The strategy `name` with whichever of `options` it takes (a command line offers every strategy's knobs at once)."""
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    accepted = inspect.signature(STRATEGIES[name]).parameters
    return make_strategy(name, **{key: value for key, value in options.items() if key in accepted})
