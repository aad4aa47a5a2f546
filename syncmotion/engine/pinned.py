"""Windows held to a known trajectory while the others are stepped by any strategy.

An edit's reconstruction branch follows the DDIM inversion of the photo state by state instead of re-deriving it
from x_T (which drifts, since inversion is only approximate); the branches pulled toward it see the exact path.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .strategies import StepState, Strategy, make_strategy


class Pinned:
    """Step every window with `inner`, then put the pinned windows at the trajectory's next state.

    `trajectory` is [steps + 1, B, *lat, *window_dims] in the sampler's order (trajectory[k] at its k-th timestep,
    the last entry the clean result); it must have been made for as many steps as the sampler takes.
    """

    def __init__(self, inner: str | Strategy, trajectory: torch.Tensor, windows: Sequence[int] = (0,)) -> None:
        self.inner = make_strategy(inner)
        self.name = f"{self.inner.name}, pinned"
        self.trajectory = trajectory
        self.windows = list(windows)

    def step(self, state: StepState) -> torch.Tensor:
        """x_{t-1} of every window, the pinned ones taken from the trajectory."""
        if self.trajectory.shape[0] != state.num_steps + 1:
            raise ValueError(f"the pinned trajectory has {self.trajectory.shape[0] - 1} steps but sampling takes "
                             f"{state.num_steps}; make it with the same number of steps")
        previous = self.inner.step(state).clone()
        target = self.trajectory[state.step_index + 1].to(previous)
        previous[:, self.windows] = target.unsqueeze(1).expand(-1, len(self.windows), *target.shape[1:])
        return previous
