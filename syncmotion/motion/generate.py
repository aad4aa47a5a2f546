"""A text script -> long motions: windows from the script, the synchronized sampler, features -> joints."""

from __future__ import annotations

import numpy as np
import torch

from syncmotion.backends.mdm import MotionBackend
from syncmotion.engine import STRATEGIES, sample

from .doubletake import second_take
from .features import FEATURE_DIM, features_to_joints
from .script import Script, plan_windows
from .smooth import check_smoothing, smooth_positions
from .types import Motion

__all__ = ["DEFAULT_OVERLAP", "MOTION_STRATEGIES", "MotionBackend", "generate_motion"]

# Frames shared by neighbouring windows: 10 followed segment texts better than 20 or 40 at no cost in seam jerk
# (tools/bench_long_motion.py, models/EMBEDDED.md).
DEFAULT_OVERLAP = 10

DOUBLE_TAKE = "doubletake"
# The engine's strategies, plus DoubleTake: its first take (handshake) followed by a second take of each transition.
MOTION_STRATEGIES = (*STRATEGIES, DOUBLE_TAKE)


def generate_motion(
    script: Script,
    backend: MotionBackend,
    strategy: str = "syncsde",
    inv_lambda: float = 5.0,
    steps: int | None = None,
    overlap: int = DEFAULT_OVERLAP,
    guidance: float | None = None,
    seed: int | None = None,
    num_samples: int = 1,
    stitch: str = "crossfade",
    max_batch: int | None = None,
    progress: bool = True,
    align: str = "segments",
    smooth: int = 0,
    taper: bool = True,
) -> list[Motion]:
    """`num_samples` continuous motions that follow `script`, one window per model-length stretch, synchronized."""
    if num_samples <= 0:
        raise ValueError(f"num_samples must be positive, got {num_samples}")
    check_smoothing(smooth)
    guidance = guidance if guidance is not None else backend.default_guidance
    if guidance <= 0:
        raise ValueError(f"guidance must be positive (1 = no guidance), got {guidance}")
    if script.fps != backend.fps:
        raise ValueError(f"{backend.name} makes {backend.fps:g} fps motion but the script asks for @fps {script.fps:g}; "
                         f"remove the @fps line or set it to {backend.fps:g}")
    if strategy not in MOTION_STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(MOTION_STRATEGIES)}")
    seed = seed if seed is not None else (script.seed if script.seed is not None else 0)
    steps = steps or backend.default_steps
    plan = plan_windows(script, backend.window, overlap, align, taper)
    generator = torch.Generator().manual_seed(seed)
    result = sample(
        backend.denoiser(guidance), backend.scheduler, plan.layout, plan.texts, latent_shape=(FEATURE_DIM, 1),
        strategy="handshake" if strategy == DOUBLE_TAKE else strategy, inv_lambda=inv_lambda, steps=steps,
        batch_size=num_samples, generator=generator, max_batch=max_batch, stitch=stitch, progress=progress,
    )
    canvas, model_calls = result.canvas, result.model_calls
    window_evaluations = len(result.timesteps) * plan.layout.num_windows
    if strategy == DOUBLE_TAKE:
        canvas, second_calls, second_evaluations = second_take(canvas, plan.layout.starts, plan.layout.window_dims[0],
                                                               backend, steps, generator, max_batch, progress)
        model_calls += second_calls
        window_evaluations += second_evaluations
    canvas = canvas[..., :script.num_frames]
    features = backend.normalizer.denormalize(canvas[:, :, 0, :].transpose(1, 2).float())
    joints = np.stack([smooth_positions(sample, smooth) for sample in features_to_joints(features).numpy()])
    meta = {
        "model": backend.name, "strategy": strategy, "inv_lambda": inv_lambda, "steps": steps, "overlap": overlap,
        "guidance": guidance, "seed": seed, "window": int(plan.layout.window_dims[0]),
        "model_calls": model_calls, "window_evaluations": window_evaluations, "stitch": stitch, "align": align,
        "smooth": smooth, "taper": taper, "window_texts": list(plan.texts),
    }
    return [
        Motion(positions=joints[i], fps=script.fps, segments=list(script.segments), seams=list(plan.seams),
               meta={**meta, "sample": i})
        for i in range(num_samples)
    ]
