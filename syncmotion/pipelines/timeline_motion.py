"""A timeline (overlapping body-part tracks, maybe looping) -> motions: every track's windows in one lockstep batch.

Each window reads its track's text; the canvas takes every feature on every frame from the track moving that body
part there, and each window is pulled toward the canvas where other tracks move the body (OwnedWindows). With @loop
the canvas is a circle, so the windows at the end are pulled toward those at the start across the wrap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from syncmotion.engine import sample
from syncmotion.motion.features import FEATURE_DIM, features_to_joints
from syncmotion.motion.script import Script
from syncmotion.motion.finish import finish_positions
from syncmotion.motion.timeline import BODY_PARTS, Timeline, plan_tracks
from syncmotion.motion.types import Motion

from .motion_model import MotionModel

if TYPE_CHECKING:
    from .long_motion import LongMotionSettings


def track_meta(timeline: Timeline) -> list[dict]:
    """The tracks as the exported motion's meta lists them (the viewer draws them as bands)."""
    return [{"text": t.text, "start": t.start, "end": t.end,
             "parts": [p for p in BODY_PARTS if p in t.parts] or list(BODY_PARTS), "whole_body": not t.parts}
            for t in timeline.tracks]


def generate_timeline_motion(script: Script, backend: MotionModel, settings: LongMotionSettings,
                             run: tuple[float, int, int, str], max_batch: int | None = None,
                             progress: bool = True) -> list[Motion]:
    """`settings.num_samples` motions of `script.timeline`; generate_motion checked `settings` and gives (guidance,
    seed, steps, the solver's name), `backend` already sampled by that solver."""
    timeline = script.timeline
    if timeline is None:
        raise ValueError(f"{script.source} has no timeline; sequential scripts go through generate_motion")
    if settings.second_take:
        raise ValueError("doubletake regenerates transitions of one chain of windows and does not run on timelines; "
                         "choose another --strategy (syncsde, multidiffusion, synctweedies, ...)")
    from .long_motion import MODEL_SCHEDULER, run_record  # here: long_motion imports this module for timelines

    guidance, seed, steps, scheduler = run
    plan = plan_tracks(timeline, backend.window, settings.overlap)
    generator = torch.Generator().manual_seed(seed)
    result = sample(backend.denoiser(guidance), backend.scheduler, plan.layout, plan.texts, latent_shape=(FEATURE_DIM, 1),
                    strategy=settings.strategy, steps=steps, batch_size=settings.num_samples, generator=generator,
                    max_batch=max_batch, stitch=settings.stitch, progress=progress)
    features = backend.normalizer.denormalize(result.canvas[:, :, 0, :].transpose(1, 2).float())
    joints = np.stack([finish_positions(sample, timeline.fps, settings.smooth, settings.foot_lock, timeline.loop,
                                        settings.foot_contact, settings.pinned_frames)
                       for sample in features_to_joints(features).numpy()])
    meta = {
        **run_record(backend, settings, steps, guidance, seed),
        "window": int(plan.layout.window_dims[0]), "model_calls": result.model_calls,
        "window_evaluations": len(result.timesteps) * plan.layout.num_windows, "stitch": settings.stitch,
        "smooth": settings.smooth, "window_texts": list(plan.texts), "tracks": track_meta(timeline), "loop": timeline.loop,
        **({"foot_lock": True} if settings.foot_lock and not timeline.loop else {}),
        **({"scheduler": scheduler} if scheduler != MODEL_SCHEDULER else {}),
    }
    return [Motion(positions=joints[i], fps=timeline.fps, segments=timeline.segments(), seams=list(plan.seams),
                   meta={**meta, "sample": i})
            for i in range(settings.num_samples)]

