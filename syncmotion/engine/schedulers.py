"""Samplers by name: a model's training schedule stepped by DDIM or by another diffusers solver."""

from __future__ import annotations

import importlib
from typing import Any

from .ddim import DDIM

# name -> (diffusers scheduler class, settings beyond the model's schedule). DPM-Solver++ and UniPC are multistep
# solvers that need fewer model calls than DDIM for the same error (they keep the last model outputs); second order,
# as diffusers recommends for guided sampling. diffusers is imported only when one of them is asked for: importing
# it costs more than a short motion's sampling (engine/ddim.py).
SCHEDULERS: dict[str, tuple[str, dict[str, Any]]] = {
    "ddim": ("DDIMScheduler", {}),
    "dpmsolver++": ("DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++", "solver_order": 2}),
    "unipc": ("UniPCMultistepScheduler", {"solver_order": 2}),
}
# The schedule's own settings, kept whatever the solver (what the model was trained on and how steps are spaced).
_SCHEDULE_KEYS = ("num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas", "prediction_type",
                  "timestep_spacing", "steps_offset")


SPACINGS = ("leading", "trailing", "linspace")


def scheduler_named(scheduler: Any, name: str, timestep_spacing: str | None = None) -> Any:
    """`scheduler`'s training schedule stepped by the solver called `name`, its steps spaced as `timestep_spacing`
    (None: as `scheduler` spaces them); a ValueError lists the choices."""
    if name not in SCHEDULERS:
        raise ValueError(f"unknown scheduler {name!r}; choose one of {', '.join(SCHEDULERS)}")
    if timestep_spacing is not None and timestep_spacing not in SPACINGS:
        raise ValueError(f"unknown timestep spacing {timestep_spacing!r}; choose one of {', '.join(SPACINGS)}")
    class_name, settings = SCHEDULERS[name]
    config = scheduler.config
    schedule = {key: config[key] for key in _SCHEDULE_KEYS if key in config}
    if timestep_spacing is not None:
        schedule["timestep_spacing"] = timestep_spacing
    if name == "ddim" and isinstance(scheduler, DDIM):
        return DDIM.from_config(config, **schedule)
    solver = getattr(importlib.import_module("diffusers"), class_name)
    if isinstance(scheduler, solver) and name == "ddim":
        # DDIM's own settings (clipping, the last step's alpha) stay as the model set them.
        return solver.from_config(config, **schedule)
    return solver(**schedule, **settings)
