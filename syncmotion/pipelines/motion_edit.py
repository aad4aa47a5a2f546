"""Re-generating one span of a finished motion while every frame outside the span and its blend margin stays put.

The motion's joints become HumanML3D features (exactly invertible), and only the windows around the span are
sampled: their clean estimate is held to the input's features outside the span (fading over a margin of `overlap`
frames on each side) and, when motion follows the span, guided so the new take ends where the old one did (joint
positions of the frames after the span, on the features -> joints map). What is left of that end-point mismatch is
spread over the span as a slowly growing turn and shift on the ground. The output copies the input's joint
positions outside span + margin, so those frames are bit-identical; within the margin it cross-fades from the old
positions to the new ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from syncmotion.engine import sample, temporal_windows
from syncmotion.engine.guidance import Guided, gradient_guidance, hold
from syncmotion.engine.windows import CropLayout, temporal_windows_at
from syncmotion.motion.constraints import place
from syncmotion.motion.features import FEATURE_DIM, facing_angle, features_to_joints, joints_to_features
from syncmotion.motion.script import majority_text
from syncmotion.motion.smooth import check_smoothing, smooth_positions
from syncmotion.motion.types import Motion, Segment

from .long_motion import LongMotionSettings, resolve_sampling, with_scheduler
from .motion_model import MotionModel

# Strength of the Polyak steps that pull the span's end onto the frames after it (1 would meet them at once; a little
# less leaves the model room to get there smoothly), and how many per sampling step.
ANCHOR_STRENGTH = 0.5
ANCHOR_ITERATIONS = 2


@dataclass(frozen=True)
class EditPlan:
    """Where an edit samples: the span [start, end), the sampled stretch [low, high), keep weights and windows over it."""

    start: int
    end: int
    low: int
    high: int
    margin: int
    keep: np.ndarray  # [high - low]: 1 = the input's frame, 0 = regenerated, between: blended
    layout: CropLayout
    texts: list[str]

    @property
    def changed(self) -> tuple[int, int]:
        """Frames [first, last) that may differ from the input: the span and its margins."""
        return max(self.start - self.margin, 0), min(self.end + self.margin, self.low + len(self.keep))


def _keep_weights(low: int, high: int, start: int, end: int, margin: int, frames: int) -> np.ndarray:
    """1 outside span + margin, 0 on the span, a smootherstep across each margin (none at the motion's own ends)."""
    index = np.arange(low, high, dtype=np.float64)
    keep = np.zeros(high - low)
    if start > 0:
        keep = np.maximum(keep, np.clip((start - index) / (margin + 1), 0, 1))
    if end < frames:
        keep = np.maximum(keep, np.clip((index - end + 1) / (margin + 1), 0, 1))
    return keep * keep * keep * (keep * (keep * 6 - 15) + 10)


def plan_edit(motion: Motion, span: tuple[int, int], window: int, overlap: int, text: str | None = None) -> EditPlan:
    """The windows that re-generate `span` of `motion`: as few as cover span, margins and `overlap` frames of context."""
    frames = motion.num_frames
    start, end = span
    if not 0 <= start < end <= frames:
        raise ValueError(f"span [{start}, {end}) is outside the motion's {frames} frames")
    margin = overlap
    low, high = max(start - 2 * margin, 0), min(end + 2 * margin, frames)
    size = min(window, frames)
    if high - low < size:  # one window, centred on the span where the motion allows
        low = min(max((start + end - size) // 2, 0), frames - size)
        high = low + size
    if high - low == size:
        layout = temporal_windows_at(size, size, [0], taper=True)
    else:
        layout = temporal_windows(high - low, size, overlap, taper=True)
    texts = [text if text is not None else majority_text(motion.segments, low + s, low + s + size) for s in layout.starts]
    return EditPlan(start, end, low, high, margin, _keep_weights(low, high, start, end, margin, frames), layout, texts)


def _features(positions: np.ndarray) -> torch.Tensor:
    """Features [T, 263] of joints [T, 22, 3]: the last frame, which has no next one, repeats its predecessor's."""
    features = torch.from_numpy(joints_to_features(positions.astype(np.float32)))
    return torch.cat([features, features[-1:]], dim=0)


def _in_world(features: torch.Tensor, first: np.ndarray) -> np.ndarray:
    """Joints [T, 22, 3] from features, placed where the motion's first frame `first` [22, 3] stands and faces."""
    joints = features_to_joints(features.double()).numpy().astype(np.float64)
    heading = float(facing_angle(torch.from_numpy(first[None].astype(np.float64)))[0])
    return place(joints, np.array([first[0, 0], first[0, 2]]), heading)


def _ground_fit(source: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """The turn about y (radians, about `pivot`) and shift (x, z) that best map joints `source` onto `target` on the ground."""
    pivot = source[:, [0, 2]].mean(0)
    mine, theirs = source[:, [0, 2]] - pivot, target[:, [0, 2]] - target[:, [0, 2]].mean(0)
    cross = (mine[:, 0] * theirs[:, 1] - mine[:, 1] * theirs[:, 0]).sum()
    dot = (mine * theirs).sum()
    return math.atan2(-cross, dot), pivot, target[:, [0, 2]].mean(0) - pivot


def _spread_correction(joints: np.ndarray, target: np.ndarray, first: int, last: int) -> np.ndarray:
    """Joints turned and shifted a growing share (0 at `first`, all from `last` on) so frame `last` lands on `target`."""
    turn, pivot, shift = _ground_fit(joints[last], target)
    share = np.clip((np.arange(len(joints)) - first) / max(last - first, 1), 0, 1)
    share = share * share * (3 - 2 * share)
    corrected = joints.copy()
    for frame in np.nonzero(share)[0]:
        moved = place(joints[frame:frame + 1] - np.array([pivot[0], 0, pivot[1]]), pivot + share[frame] * shift,
                      share[frame] * turn)
        corrected[frame] = moved[0]
    return corrected


def edited_segments(segments: list[Segment], start: int, end: int, text: str | None) -> list[Segment]:
    """The segments with [start, end) given to `text` (unchanged without a new text)."""
    if text is None:
        return list(segments)
    edited = []
    for segment in segments:
        if segment.start < start:
            edited.append(Segment(segment.text, segment.start, min(segment.end, start)))
        if segment.end > end:
            edited.append(Segment(segment.text, max(segment.start, end), segment.end))
    edited.append(Segment(text, start, end))
    return sorted(edited, key=lambda s: s.start)


def edit_motion(motion: Motion, span: tuple[int, int], backend: MotionModel,
                settings: LongMotionSettings | None = None, text: str | None = None,
                max_batch: int | None = None, progress: bool = True) -> Motion:
    """`motion` with `span` (frames [start, end)) re-generated, under `text` or its own texts; other frames kept bit for bit."""
    settings = settings if settings is not None else LongMotionSettings()
    check_smoothing(settings.smooth)
    if motion.fps != backend.fps:
        raise ValueError(f"{backend.name} makes {backend.fps:g} fps motion but the motion is {motion.fps:g} fps; "
                         "resample it to the model's rate first")
    # The span is sampled as generation samples (the model's default solver unless --scheduler says otherwise).
    scheduler, steps = resolve_sampling(settings, backend)
    backend = with_scheduler(backend, scheduler)
    guidance = settings.guidance if settings.guidance is not None else backend.default_guidance
    seed = settings.seed if settings.seed is not None else int(motion.meta.get("seed", 0) or 0) + 1
    plan = plan_edit(motion, span, backend.window, settings.overlap, text)
    positions = np.asarray(motion.positions, dtype=np.float32)
    features = _features(positions)
    local = features[plan.low:plan.high]
    known = backend.normalizer.normalize(local.float()).T[None, :, None, :]  # [1, 263, 1, L]
    keep = torch.from_numpy(plan.keep).float()[None, None, None, :]  # a canvas: batch, latent, frames
    corrections = [hold(known, keep)]
    anchored = plan.end + plan.margin < plan.high
    if anchored:
        after = torch.arange(plan.end + plan.margin - plan.low, plan.high - plan.low)
        target = features_to_joints(local.double())[after]

        def anchor_loss(canvas: torch.Tensor) -> torch.Tensor:
            joints = features_to_joints(backend.normalizer.denormalize(canvas[:, :, 0, :].transpose(1, 2)))
            return (joints[:, after] - target).pow(2).sum(-1).mean((-1, -2))

        corrections.append(gradient_guidance(anchor_loss, ANCHOR_STRENGTH, ANCHOR_ITERATIONS))
    generator = torch.Generator().manual_seed(seed)
    result = sample(backend.denoiser(guidance), backend.scheduler, plan.layout, plan.texts, latent_shape=(FEATURE_DIM, 1),
                    strategy=Guided(settings.strategy, corrections), steps=steps, generator=generator, max_batch=max_batch,
                    stitch=settings.stitch, progress=progress)
    new = features.clone().double()
    new[plan.low:plan.high] = backend.normalizer.denormalize(result.canvas[0, :, 0, :].T.float()).double()
    joints = _in_world(new, positions[0].astype(np.float64))
    first, last = plan.changed
    if last < motion.num_frames:
        joints = _spread_correction(joints, positions[last].astype(np.float64), first, last)
    blended = positions.astype(np.float64).copy()
    weights = np.ones(motion.num_frames)
    weights[plan.low:plan.high] = plan.keep
    inside = slice(first, last)
    blended[inside] = weights[inside, None, None] * positions[inside] + (1 - weights[inside, None, None]) * joints[inside]
    # Smoothed as generation smooths, over the changed frames and a filter length of their neighbours each side.
    reach = settings.smooth
    around = slice(max(first - reach, 0), min(last + reach, motion.num_frames))
    smoothed = smooth_positions(blended[around], settings.smooth)
    out = positions.copy()
    out[inside] = smoothed[first - around.start:last - around.start].astype(np.float32)
    record = {"span": [plan.start, plan.end], "margin": plan.margin, "text": text, "model": backend.name,
              "precision": backend.precision, "seed": seed,
              "steps": steps, "scheduler": scheduler, "guidance": guidance, "windows": plan.layout.num_windows,
              "sampled": [plan.low, plan.high],
              "window_evaluations": len(result.timesteps) * plan.layout.num_windows, "model_calls": result.model_calls}
    seams = sorted({s for s in motion.seams if not first <= s < last} | {plan.low + s for s in plan.layout.starts[1:]})
    meta = {**motion.meta, "edits": [*motion.meta.get("edits", []), record]}
    return Motion(out, motion.fps, edited_segments(motion.segments, plan.start, plan.end, text), seams, meta)
