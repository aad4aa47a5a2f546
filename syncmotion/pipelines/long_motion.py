"""A text script -> long motions: windows from the script, the synchronized sampler, features -> joints."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from syncmotion.engine import STRATEGIES, Strategy, make_strategy, sample, strategy_from_options
from syncmotion.engine.schedulers import SCHEDULERS, scheduler_named
from syncmotion.motion.features import FEATURE_DIM, features_to_joints
from syncmotion.motion.script import Script, plan_windows
from syncmotion.motion.finish import finish_positions
from syncmotion.motion.foot_lock import CONTACT_HEIGHT, CONTACT_SPEED
from syncmotion.motion.smooth import check_smoothing
from syncmotion.motion.types import Motion

from .doubletake import second_take
from .motion_model import MotionModel

# Frames shared by neighbouring windows: 10 followed segment texts better than 20 or 40 at no cost in seam jerk
# (tools/bench_long_motion.py, models/EMBEDDED.md).
DEFAULT_OVERLAP = 10

# The most motion (seconds, all samples together) one run makes unless the caller raises it: 10 minutes take
# about 2 minutes and 1.3 GB with the embedded model at 50 steps in float32 on a 2-core CPU (estimate_work), well
# under a minute with its defaults on a CPU with bfloat16.
MAX_SECONDS = 600.0
# Calibration of estimate_work on a 2-core CPU (embedded model, 60 and 240 s scripts: 10 and 38 s, 0.66 and 0.85 GB
# peak): model arithmetic per second, memory per window frame per unit of the network's width, and the rest.
CPU_FLOPS = 8e10
# bfloat16 on a CPU that has it: twice the arithmetic per second (a guided call of the demo's batch, 0.045 s against 0.092 s).
BFLOAT16_SPEEDUP = 2.0
BYTES_PER_FRAME_WIDTH = 13
BASE_BYTES = 6e8

# "model": the model's own scheduler (DDIM, diffusers' "leading" spacing: 50 steps start at t = 980 of 1000). The
# solvers by name run their steps from t = T-1 down to 0, as MDM respaces a schedule: with "leading" spacing fewer
# steps start ever further from pure noise (t = 950 at 20 steps), where the embedded model makes nearly still motion.
# Starting at T-1 keeps long walks going but makes feet skate more near seams (models/EMBEDDED.md).
MODEL_SCHEDULER = "model"
MOTION_SCHEDULERS = (MODEL_SCHEDULER, *SCHEDULERS)
SOLVER_SPACING = "linspace"

DOUBLE_TAKE = "doubletake"
# The engine's strategies, plus DoubleTake: its first take (handshake) followed by a second take of each transition.
MOTION_STRATEGIES = (*STRATEGIES, DOUBLE_TAKE)


@dataclass(frozen=True)
class LongMotionSettings:
    """How a script becomes motion: the engine's strategy object and everything around it (None: the model's own)."""

    strategy: Strategy = field(default_factory=lambda: make_strategy("syncsde"))
    second_take: bool = False  # DoubleTake: regenerate every transition after the first take
    steps: int | None = None
    overlap: int = DEFAULT_OVERLAP
    guidance: float | None = None
    seed: int | None = None
    num_samples: int = 1
    stitch: str = "crossfade"
    align: str = "segments"
    taper: bool = True
    smooth: int = 0
    # "model": the model's own scheduler; else a solver of engine.schedulers by name; None: the model's default.
    scheduler: str | None = None
    # Hold feet still while they rest on the floor (motion/foot_lock.py); never for loops.
    foot_lock: bool = True
    foot_contact: tuple[float, float] = (CONTACT_HEIGHT, CONTACT_SPEED)  # a foot rests below this height (m) and speed (m/s)
    # Frames whose poses foot locking leaves as sampled: key poses, which guidance has just met.
    pinned_frames: tuple[int, ...] = ()

    @classmethod
    def named(cls, strategy: str = "syncsde", strategy_options: Mapping[str, Any] | None = None,
              **settings: Any) -> LongMotionSettings:
        """Settings for a strategy name users give ("doubletake" too), with those of `strategy_options` it takes."""
        if strategy == DOUBLE_TAKE:
            return cls(strategy=make_strategy("handshake"), second_take=True, **settings)
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(MOTION_STRATEGIES)}")
        return cls(strategy=strategy_from_options(strategy, strategy_options or {}), **settings)

    @property
    def strategy_name(self) -> str:
        """The name users give for this strategy (DoubleTake's first take is the handshake strategy)."""
        return DOUBLE_TAKE if self.second_take else self.strategy.name


@dataclass(frozen=True)
class WorkEstimate:
    """What a run is expected to cost on a 2-core CPU."""

    seconds: float
    memory_bytes: float

    def describe(self) -> str:
        """The estimate in words, e.g. 'about 2 min and 1.4 GB on a 2-core CPU'."""
        minutes = self.seconds / 60
        duration = f"{self.seconds:.0f} s" if minutes < 2 else f"{minutes:.0f} min" if minutes < 120 else f"{minutes / 60:.3g} h"
        gigabytes = self.memory_bytes / 1e9
        return f"about {duration} and {gigabytes:.2g} GB on a 2-core CPU" if gigabytes < 10 else \
            f"about {duration} and {gigabytes:.3g} GB on a 2-core CPU"


def estimate_work(script: Script, backend: MotionModel, num_samples: int = 1, steps: int | None = None,
                  overlap: int = DEFAULT_OVERLAP, guided: bool = True) -> WorkEstimate:
    """Time and memory a run of `script` should take, from the network's size and the frames its windows cover."""
    steps = steps or backend.default_steps
    stride = max(backend.window - overlap, 1)
    # Windows cover each frame window/stride times over; the batch doubles under guidance.
    window_frames = (script.num_frames / stride + 1) * backend.window * num_samples * (2 if guided else 1)
    parameters = sum(p.numel() for p in backend.network.parameters())
    # Activations grow with the network's width, which in a transformer stack is about the square root of its
    # parameter count (the embedded model: 3.0 M parameters, 1,792 wide counting its feed-forward layer).
    width = math.sqrt(parameters)
    flops = CPU_FLOPS * (BFLOAT16_SPEEDUP if backend.precision == "bfloat16" else 1.0)
    return WorkEstimate(seconds=2 * parameters * window_frames * steps / flops,
                        memory_bytes=BASE_BYTES + window_frames * width * BYTES_PER_FRAME_WIDTH)


def check_length(script: Script, num_samples: int, max_seconds: float, backend: MotionModel,
                 steps: int | None = None, overlap: int = DEFAULT_OVERLAP) -> None:
    """Raise a ValueError, with the time and memory it would take, when the run asks for more than `max_seconds`."""
    seconds = script.num_frames / script.fps * num_samples
    if seconds <= max_seconds:
        return
    estimate = estimate_work(script, backend, num_samples, steps, overlap).describe()
    asked = f"{seconds:.6g} s of motion" + (f" ({num_samples} samples)" if num_samples > 1 else "")
    raise ValueError(f"{script.source} asks for {asked}, more than the {max_seconds:g} s limit ({estimate}); "
                     f"shorten it, or raise the limit with --max-seconds {math.ceil(seconds)}")


def with_scheduler(backend: MotionModel, name: str) -> MotionModel:
    """`backend` sampled by the solver called `name` ("model": the backend itself, with the model's own scheduler)."""
    if name == MODEL_SCHEDULER:
        return backend
    return dataclasses.replace(backend, scheduler=scheduler_named(backend.scheduler, name, SOLVER_SPACING))  # type: ignore[type-var]


def resolve_sampling(settings: LongMotionSettings, backend: MotionModel, script: Script | None = None) -> tuple[str, int]:
    """The solver and the number of steps a run samples with: the settings' where they name them, else the backend's
    defaults for `script` (None: a span of a finished motion, as edits sample it).

    Timelines (body-part tracks, loops) keep the model's own DDIM. From t = 999 the embedded model's arm tracks were
    recognised less often (0.87 against 0.93 of 30 timelines), their starts and ends jerked more (Peak Jerk 0.102
    against 0.069; real 0.083), and loops ran at 1.5 m/s where the real clips go 0.58 (tools/bench_timelines.py).
    """
    timeline = script is not None and script.timeline is not None
    scheduler = settings.scheduler or (MODEL_SCHEDULER if timeline else backend.default_scheduler)
    if settings.steps:
        return scheduler, settings.steps
    return scheduler, backend.model_steps if scheduler == MODEL_SCHEDULER else backend.default_steps


def run_record(backend: MotionModel, settings: LongMotionSettings, steps: int, guidance: float, seed: int) -> dict[str, Any]:
    """How a motion was sampled, as its meta begins, for scripts and timelines alike."""
    return {"model": backend.name, "precision": backend.precision, "strategy": settings.strategy_name,
            "inv_lambda": getattr(settings.strategy, "inv_lambda", None), "steps": steps, "overlap": settings.overlap,
            "guidance": guidance, "seed": seed}


def generate_motion(script: Script, backend: MotionModel, settings: LongMotionSettings = LongMotionSettings(),
                    max_batch: int | None = None, progress: bool = True) -> list[Motion]:
    """`settings.num_samples` continuous motions that follow `script`, one window per model-length stretch, synchronized."""
    scheduler, steps = resolve_sampling(settings, backend, script)
    backend = with_scheduler(backend, scheduler)
    if settings.num_samples <= 0:
        raise ValueError(f"num_samples must be positive, got {settings.num_samples}")
    check_smoothing(settings.smooth)
    guidance = settings.guidance if settings.guidance is not None else backend.default_guidance
    if guidance <= 0:
        raise ValueError(f"guidance must be positive (1 = no guidance), got {guidance}")
    if script.fps != backend.fps:
        raise ValueError(f"{backend.name} makes {backend.fps:g} fps motion but the script asks for @fps {script.fps:g}; "
                         f"remove the @fps line or set it to {backend.fps:g}")
    seed = settings.seed if settings.seed is not None else (script.seed if script.seed is not None else 0)
    if script.timeline is not None:  # overlapping body-part tracks or a loop: their own windows (timeline_motion.py)
        from .timeline_motion import generate_timeline_motion

        return generate_timeline_motion(script, backend, settings, (guidance, seed, steps, scheduler), max_batch, progress)
    plan = plan_windows(script, backend.window, settings.overlap, settings.align, settings.taper)
    generator = torch.Generator().manual_seed(seed)
    result = sample(
        backend.denoiser(guidance), backend.scheduler, plan.layout, plan.texts, latent_shape=(FEATURE_DIM, 1),
        strategy=settings.strategy, steps=steps, batch_size=settings.num_samples, generator=generator, max_batch=max_batch,
        stitch=settings.stitch, progress=progress,
    )
    canvas, model_calls = result.canvas, result.model_calls
    window_evaluations = len(result.timesteps) * plan.layout.num_windows
    if settings.second_take:
        canvas, second_calls, second_evaluations = second_take(canvas, plan.layout.starts, plan.layout.window_dims[0],
                                                               backend, steps, generator, max_batch, progress)
        model_calls += second_calls
        window_evaluations += second_evaluations
    canvas = canvas[..., :script.num_frames]
    features = backend.normalizer.denormalize(canvas[:, :, 0, :].transpose(1, 2).float())
    joints = np.stack([finish_positions(sample, script.fps, settings.smooth, settings.foot_lock,
                                        contact=settings.foot_contact, pinned=settings.pinned_frames)
                       for sample in features_to_joints(features).numpy()])
    meta = {
        **run_record(backend, settings, steps, guidance, seed),
        "window": int(plan.layout.window_dims[0]), "model_calls": model_calls, "window_evaluations": window_evaluations,
        "stitch": settings.stitch, "align": settings.align, "smooth": settings.smooth, "taper": settings.taper,
        "window_texts": list(plan.texts),
        # Recorded when it is not the model's own, so that default runs keep writing the files they always wrote.
        **({"scheduler": scheduler} if scheduler != MODEL_SCHEDULER else {}),
        **({"foot_lock": True} if settings.foot_lock else {}),
    }
    return [
        Motion(positions=joints[i], fps=script.fps, segments=list(script.segments), seams=list(plan.seams),
               meta={**meta, "sample": i})
        for i in range(settings.num_samples)
    ]
