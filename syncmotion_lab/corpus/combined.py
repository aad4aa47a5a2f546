"""Combined motions: a locomotion on the legs with an arm action on top (walk + wave, march + punch, side step + clap).

The reference for timelines: one person, one rig, the legs' action's controls with the arm action's wrist and elbow
targets blended in over the arm action's time (a minimum-jerk blend of `BLEND_SECONDS` at each end). The embedded model
never trains on these (it trains on corpus seed 0's single actions).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from syncmotion.motion.skeleton import FOOT_JOINTS
from syncmotion_lab.corpus.actions import ACTIONS, HAND_INDEX, ActionContext
from syncmotion_lab.corpus.generator import sample_params
from syncmotion_lab.corpus.rig import build, sample_body
from syncmotion_lab.corpus.steps import min_jerk
from syncmotion_lab.corpus.texts import describe

LEGS_ACTIONS = ("walk", "march", "side_step", "run")
ARM_ACTIONS = ("wave", "punch", "clap")
BLEND_SECONDS = 0.3
ARM_PARTS = {0: "left arm", 1: "right arm"}


@dataclass
class CombinedClip:
    """Joint positions [T, 22, 3] of a legs action with an arm action over frames [arm_start, arm_end)."""

    positions: np.ndarray
    legs: str
    arm: str
    legs_text: str
    arm_text: str
    arm_start: int
    arm_end: int
    arm_parts: tuple[str, ...]


def _arm_params(arm: str, rng: np.random.Generator) -> dict:
    params = sample_params(arm, rng)
    if "hand" in params and params["hand"] == "both":
        # One hand, so the track names one arm (clap always takes both).
        params["hand"] = ("left", "right")[int(rng.integers(2))]
    return params


def combined_clip(legs: str, arm: str, rng: np.random.Generator, split: str = "heldout") -> CombinedClip:
    """One person doing `legs` with `arm` on top, somewhere inside it; texts from the corpus `split`."""
    if legs not in LEGS_ACTIONS or arm not in ARM_ACTIONS:
        raise ValueError(f"combine a legs action of {LEGS_ACTIONS} with an arm action of {ARM_ACTIONS}, got {legs} + {arm}")
    body = sample_body(rng)
    scene = ActionContext(body=body, rng=rng)
    legs_params, arm_params = sample_params(legs, rng), _arm_params(arm, rng)
    base = ACTIONS[legs].program(scene, legs_params)
    top = ACTIONS[arm].program(scene, arm_params)
    length, arm_length = base.frames, min(top.frames, base.frames)
    start = int(rng.integers(0, length - arm_length + 1))
    hands = [HAND_INDEX[arm_params["hand"]]] if "hand" in arm_params else [0, 1]
    ramp_frames = max(1, round(BLEND_SECONDS * scene.fps))
    local = np.arange(arm_length)
    weight = (min_jerk(local / ramp_frames) * min_jerk((arm_length - 1 - local) / ramp_frames))[:, None, None]
    span = slice(start, start + arm_length)
    for hand in hands:
        for name in ("wrists", "elbows"):
            target = getattr(base, name)
            target[span, hand] = (1 - weight[:, 0]) * target[span, hand] + weight[:, 0] * getattr(top, name)[:arm_length, hand]
    positions = build(base, body)
    positions[..., 1] -= positions[:, FOOT_JOINTS, 1].min()
    return CombinedClip(positions.astype(np.float32), legs, arm, describe(legs, legs_params, split, rng),
                        describe(arm, arm_params, split, rng), start, start + arm_length,
                        tuple(ARM_PARTS[h] for h in sorted(hands)))


def draw_combined(seed: int, index: int, split: str = "heldout") -> CombinedClip:
    """Combined clip `index` of draw `seed`: legs and arm actions drawn uniformly, the same clip in any order."""
    rng = np.random.default_rng([seed, index])
    legs = LEGS_ACTIONS[int(rng.integers(len(LEGS_ACTIONS)))]
    arm = ARM_ACTIONS[int(rng.integers(len(ARM_ACTIONS)))]
    return combined_clip(legs, arm, rng, split)
