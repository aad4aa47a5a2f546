"""Corpus clips: one action with its parameters and a text, as joint positions on the floor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from syncmotion.motion.skeleton import FOOT_JOINTS
from syncmotion_lab.corpus.actions import ACTIONS, ActionContext
from syncmotion_lab.corpus.rig import Body, build, sample_body
from syncmotion_lab.corpus.texts import describe

SPLITS = ("train", "heldout", "eval")


@dataclass
class Clip:
    """A corpus clip: positions [T, 22, 3] float32 in metres (y up, facing +z at the start) at 20 fps."""

    positions: np.ndarray
    action: str
    params: dict[str, Any]
    text: str


def sample_params(action: str, rng: np.random.Generator) -> dict[str, Any]:
    """Parameters of `action` drawn uniformly from their ranges."""
    return {name: spec.sample(rng) for name, spec in _action(action).params.items()}


def _action(name: str):
    if name not in ACTIONS:
        raise ValueError(f"unknown action {name!r}; known actions: {', '.join(sorted(ACTIONS))}")
    return ACTIONS[name]


def generate_clip(action: str, params: dict[str, Any] | None, rng: np.random.Generator,
                  split: str = "train", body: Body | None = None) -> Clip:
    """One clip of `action` by `body` (default: a random person); missing parameters drawn, text from the split."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use one of {SPLITS}")
    spec = _action(action)
    given = dict(params or {})
    unknown = set(given) - set(spec.params)
    if unknown:
        raise ValueError(f"action {action!r} has no parameter(s) {sorted(unknown)}; it takes {sorted(spec.params)}")
    full = {name: (p.check(name, given[name]) if name in given else p.sample(rng)) for name, p in spec.params.items()}
    body = sample_body(rng) if body is None else body
    controls = spec.program(ActionContext(body=body, rng=rng), full)
    positions = build(controls, body)
    positions[..., 1] -= positions[:, FOOT_JOINTS, 1].min()
    return Clip(positions=positions.astype(np.float32), action=action, params=full,
                text=describe(action, full, split, rng))


def sample_clip(rng: np.random.Generator, split: str = "train") -> Clip:
    """A clip of a uniformly drawn action with random parameters and a text from the split."""
    names = sorted(ACTIONS)
    return generate_clip(names[int(rng.integers(len(names)))], None, rng, split)


def corpus_clip(seed: int, index: int, split: str = "train") -> Clip:
    """Clip `index` of the corpus drawn with `seed`: the same clip however many others are drawn, in any order."""
    return sample_clip(np.random.default_rng([seed, index]), split)
