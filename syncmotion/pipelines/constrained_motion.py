"""A script with constraints (key poses, a root path) -> long motions that meet them, by guidance on joint positions.

At every sampling step the windows' clean estimate x̂0 is merged into the canvas, turned into joint positions (the
features -> joints map, differentiable in torch) and moved down the gradient of the constraints' loss by Polyak steps
(engine/guidance.py) before the synchronization strategy steps from it. The model then denoises from a clean
estimate that meets the constraints, so the frames around a key or along a path follow it instead of jumping to it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from syncmotion.engine.guidance import Correction, Guided, gradient_guidance, hold
from syncmotion.motion.constraints import (
    Constraints, PathPlan, key_loss, path_errors, path_loss, place, plan_path, pose_error, read_constraints,
)
from syncmotion.motion.foot_lock import PATH_CONTACT
from syncmotion.motion.features import FEATURE_DIM
from syncmotion.motion.script import Script, plan_windows
from syncmotion.motion.types import Motion

from .long_motion import LongMotionSettings, generate_motion
from .motion_model import MotionModel

# Polyak steps per sampling step and their strength: measured on 60 s scripts with 5 keys and 30 s paths
# (tools/bench_constraints.py); fewer missed keys by centimetres, more made the frames around them jerk.
GUIDANCE_STRENGTH = 0.5
GUIDANCE_ITERATIONS = 2
# Frames (Gaussian sigma) over which each correction is spread, so a key bends the motion around it instead of kinking it.
GUIDANCE_SPREAD = 4.0


def script_constraints(script: Script) -> Constraints:
    """The constraints of a script's @key and @path lines (their files read relative to the script's folder)."""
    source = Path(script.source)
    base = source.parent if source.is_file() else Path.cwd()
    return read_constraints(script.constraints, script.fps, script.num_frames, base)


def generate_constrained(script: Script, backend: MotionModel, settings: LongMotionSettings | None = None,
                         constraints: Constraints | None = None, max_batch: int | None = None,
                         progress: bool = True) -> list[Motion]:
    """generate_motion, with the script's constraints (or `constraints`) met by guidance; without any, generate_motion."""
    settings = settings if settings is not None else LongMotionSettings()
    constraints = script_constraints(script) if constraints is None else constraints
    if not constraints:
        return generate_motion(script, backend, settings, max_batch, progress)
    if settings.second_take:
        raise ValueError("@key and @path work with the engine's strategies, not doubletake, whose second take would "
                         "redo the transitions without them; choose --strategy syncsde")

    def on_canvas(loss: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
        return lambda canvas: loss(backend.normalizer.denormalize(canvas[:, :, 0, :].transpose(1, 2)))

    corrections: list[Correction] = []
    origin, turn = np.zeros(2), 0.0
    if constraints.path is not None:
        course = plan_path(constraints.path, script.segments, script.fps, script.num_frames)
        length = plan_windows(script, backend.window, settings.overlap, settings.align, settings.taper).layout.canvas_dims[0]
        corrections.append(_hold_root(course, backend, length))
        corrections.append(gradient_guidance(on_canvas(path_loss(course, constraints.path.frames)), GUIDANCE_STRENGTH,
                                             GUIDANCE_ITERATIONS, spread=GUIDANCE_SPREAD))
        origin, turn = course.origin, course.turn
    if constraints.keys:
        corrections.append(gradient_guidance(on_canvas(key_loss(constraints.keys)), GUIDANCE_STRENGTH, GUIDANCE_ITERATIONS,
                                             spread=GUIDANCE_SPREAD))
    guided = Guided(settings.strategy, corrections)
    # The model's legs do not follow a held root: without foot locking (on by default), feet skate on a third or more
    # of the frame steps of a path, and they slide too fast for the usual contact test (foot_lock.PATH_CONTACT).
    contact = PATH_CONTACT if constraints.path is not None else settings.foot_contact
    # Foot locking moves feet and knees after sampling: at a key it would undo what guidance met (mean error 3.4 cm
    # with locking, 2.4 cm without, on 3 scripts of 60 s with 5 keys each), so it leaves keyed frames as sampled.
    pinned = tuple(key.frame for key in constraints.keys)
    motions = generate_motion(script, backend, dataclasses.replace(settings, strategy=guided, foot_contact=contact,
                                                                   pinned_frames=pinned), max_batch, progress)
    placed = []
    for motion in motions:
        positions = place(np.asarray(motion.positions, dtype=np.float64), origin, turn).astype(np.float32)
        motion = dataclasses.replace(motion, positions=positions)
        motion.meta["constraints"] = constraint_report(motion, constraints)
        placed.append(motion)
    return placed


def _hold_root(course: PathPlan, backend: MotionModel, length: int) -> Correction:
    """Hold the root's features (turn, step) on the path's frames to those that walk it, on a canvas of `length` frames."""
    features = torch.zeros(length, FEATURE_DIM)
    frames = torch.from_numpy(course.frames[:-1])
    features[frames, :3] = torch.from_numpy(course.features()).float()
    keep = torch.zeros(length, FEATURE_DIM)
    keep[frames, :3] = 1
    known = backend.normalizer.normalize(features)
    # As canvases [batch, features, 1, frames].
    return hold(known.T[None, :, None, :], keep.T[None, :, None, :])


def constraint_report(motion: Motion, constraints: Constraints) -> dict:
    """How well `motion` meets the constraints: pose error (m) at each key, root distance (m) from each waypoint."""
    report: dict = {}
    if constraints.keys:
        report["keys"] = [{"frame": key.frame, "error_m": round(pose_error(np.asarray(motion.positions)[key.frame], key), 4)}
                          for key in constraints.keys]
    if constraints.path is not None:
        report["path"] = [{"frame": int(frame), "error_m": round(float(error), 4)}
                          for frame, error in zip(constraints.path.frames, path_errors(motion, constraints.path))]
    return report
