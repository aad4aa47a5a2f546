"""Per-part evaluators: the motion evaluator's network reading only one body part's inputs (legs, or the arms).

A part evaluator is an ordinary `Evaluator` whose input standardization divides every column of the other parts by
`HIDDEN_STD`, so those columns reach the network as zeros: what it recognises can only come from its part. The legs'
columns are the root terms and the leg joints' positions and velocities; the arms' are both arms' (an arm action is
done with either hand, and training mirrors clips).
"""

from __future__ import annotations

import numpy as np
import torch

from syncmotion.motion.timeline import BODY_PARTS, FEATURE_PART
from syncmotion_lab.corpus.combined import ARM_ACTIONS, LEGS_ACTIONS
from syncmotion_lab.eval.evaluator import INPUT_COLUMNS, Evaluator, MotionEncoder

HIDDEN_STD = 1e9
PART_GROUPS = {"legs": ("legs",), "arms": ("left arm", "right arm")}
PART_ACTIONS = {"legs": LEGS_ACTIONS, "arms": ARM_ACTIONS}


def part_columns(group: str) -> np.ndarray:
    """Which of the evaluator's 133 input columns belong to the part group `group` (legs or arms)."""
    if group not in PART_GROUPS:
        raise ValueError(f"unknown part group {group!r}; choose one of {', '.join(PART_GROUPS)}")
    parts = [BODY_PARTS.index(p) for p in PART_GROUPS[group]]
    return np.isin(FEATURE_PART[INPUT_COLUMNS], parts)


def part_evaluator(group: str, network: MotionEncoder, mean: torch.Tensor, std: torch.Tensor) -> Evaluator:
    """An evaluator of `group`'s actions that sees only `group`'s input columns."""
    hidden = torch.from_numpy(~part_columns(group))
    return Evaluator(network, mean, torch.where(hidden, torch.full_like(std, HIDDEN_STD), std), list(PART_ACTIONS[group]),
                     {"part": group})
