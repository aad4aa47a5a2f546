"""The synchronized sampler: all windows advance in lockstep, one batched model call per step."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from tqdm.auto import tqdm

from .windows import STITCH_MODES, Layout
from .coefficients import noise_coefficients, to_epsilon_and_x0
from .strategies import StepState, Strategy, make_strategy


class Denoiser(Protocol):
    """A model as the engine sees it: noisy windows, timesteps and per-window conditions in, a prediction out."""

    prediction_type: str

    def __call__(self, sample: torch.Tensor, timesteps: torch.Tensor, conds: Sequence[Any]) -> torch.Tensor:
        """The model output for a batch of windows, shaped like `sample`."""


@dataclass
class SampleResult:
    """What a synchronized sampling run produced."""

    canvas: torch.Tensor  # [batch, *latent_shape, *canvas_dims]
    windows: torch.Tensor  # [batch, N, *latent_shape, *window_dims]
    model_calls: int
    timesteps: torch.Tensor


def _epsilon_scheduler(scheduler):
    """A fresh copy of the scheduler that steps from ε, whatever the model predicts."""
    return scheduler.__class__.from_config(scheduler.config, prediction_type="epsilon")


def _call_denoiser(
    denoiser: Denoiser, sample: torch.Tensor, timestep: torch.Tensor, conds: list[Any], max_batch: int | None
) -> tuple[torch.Tensor, int]:
    """The denoiser's output for every window of [B, N, ...], in chunks of at most max_batch windows."""
    flat = sample.flatten(0, 1)
    chunk = flat.shape[0] if max_batch is None else max_batch
    outputs = []
    for begin in range(0, flat.shape[0], chunk):
        part = flat[begin : begin + chunk]
        timesteps = timestep.expand(part.shape[0]) if timestep.dim() == 0 else timestep
        outputs.append(denoiser(part, timesteps, conds[begin : begin + chunk]))
    return torch.cat(outputs).reshape(sample.shape), len(outputs)


def sample(
    denoiser: Denoiser,
    scheduler,
    layout: Layout,
    conds: Sequence[Any],
    latent_shape: Sequence[int] = (),
    strategy: str | Strategy = "syncsde",
    steps: int = 50,
    batch_size: int = 1,
    generator: torch.Generator | None = None,
    max_batch: int | None = None,
    stitch: str = "paste",
    progress: bool = True,
    init: torch.Tensor | None = None,
    start_step: int = 0,
    noise: torch.Tensor | None = None,
) -> SampleResult:
    """Sample every window of `layout` together under `strategy` and stitch them into one canvas.

    With `init` (a clean canvas [B, *latent_shape, *canvas_dims]), sampling starts from it noised to the level of
    step `start_step` of `steps` and runs the remaining steps (SDEdit), as DoubleTake's second take does.
    `noise` (standard normal, shaped like the canvas) replaces the generator's draw, e.g. a DDIM-inverted x_T.
    """
    if len(conds) != layout.num_windows:
        raise ValueError(f"got {len(conds)} conditions for {layout.num_windows} windows; give exactly one per window")
    if steps <= 0:
        raise ValueError(f"steps must be positive, got {steps}")
    # Checked here for every solver: some (DPM-Solver++) would first build a schedule of `steps` entries, which for a
    # huge value exhausts memory instead of failing.
    trained = scheduler.config.num_train_timesteps
    if steps > trained:
        raise ValueError(f"{steps} steps are more than the {trained} timesteps the model was trained with; "
                         f"use --steps {trained} or fewer")
    if max_batch is not None and max_batch <= 0:
        raise ValueError(f"max_batch must be positive or None, got {max_batch}")
    if stitch not in STITCH_MODES:
        raise ValueError(f"unknown stitch mode {stitch!r}; choose one of {', '.join(STITCH_MODES)}")
    if not 0 <= start_step < steps or (start_step and init is None):
        raise ValueError(f"start_step must be 0, or below steps ({steps}) when an init canvas is given; got {start_step}")
    shape = (batch_size, *latent_shape, *layout.canvas_dims)
    if init is not None and tuple(init.shape) != shape:
        raise ValueError(f"init canvas has shape {tuple(init.shape)}; expected {shape} (batch, latent, canvas)")
    if noise is not None and tuple(noise.shape) != shape:
        raise ValueError(f"noise has shape {tuple(noise.shape)}; expected {shape} (batch, latent, canvas)")
    rule = make_strategy(strategy)
    scheduler = _epsilon_scheduler(scheduler)
    scheduler.set_timesteps(steps)
    timesteps = scheduler.timesteps[start_step:]

    canvas_noise = torch.randn(shape, generator=generator) if noise is None else noise.float().cpu()
    if init is None:
        windows = layout.initial(canvas_noise * scheduler.init_noise_sigma)
    else:
        windows = layout.crop(scheduler.add_noise(init.to(canvas_noise), canvas_noise, timesteps[:1]))
    flat_conds = [cond for _ in range(batch_size) for cond in conds]
    model_calls = 0
    for index, timestep in enumerate(tqdm(timesteps, desc=f"{rule.name}", disable=not progress, leave=False)):
        model_input = scheduler.scale_model_input(windows.flatten(0, 1), timestep).reshape(windows.shape)
        output, calls = _call_denoiser(denoiser, model_input, timestep, flat_conds, max_batch)
        model_calls += calls
        a, b = noise_coefficients(scheduler, timestep, start_step + index)
        # The model sees a variance-preserving input; sigma-space samples are scaled down to it.
        scale = (a * a + b * b) ** -0.5
        epsilon, x0 = to_epsilon_and_x0(output, model_input, denoiser.prediction_type, a * scale, b * scale)
        state = StepState(
            sample=windows, epsilon=epsilon, x0=x0, timestep=timestep, step_index=start_step + index, num_steps=steps,
            first_timestep=float(scheduler.timesteps[0]), a=a, b=b, scheduler=scheduler, layout=layout, generator=generator,
        )
        windows = rule.step(state)
    return SampleResult(layout.merge(windows, stitch), windows, model_calls, timesteps)
