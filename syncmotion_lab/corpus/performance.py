"""Corpus performances: long takes of up to a minute that hold one action or chain several, with per-segment texts.

Single clips start and end at rest, so a model trained on them alone makes every window accelerate and stop.
Performances add what long scripts ask for: gaits that keep going for a minute, gaits that speed up into a run
and slow back down without stopping, steady repetitive actions, and chains of actions joined with only a brief
pause, each stretch labelled with its own text.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from syncmotion.motion.skeleton import FOOT_JOINTS, FPS
from syncmotion_lab.corpus.actions import ACTIONS, ActionContext, gait
from syncmotion_lab.corpus.generator import SPLITS, generate_clip
from syncmotion_lab.corpus.rig import SIDE, Body, build, rot_y, sample_body
from syncmotion_lab.corpus.steps import Step, min_jerk
from syncmotion_lab.corpus.texts import describe

MAX_SECONDS = 60.0
KINDS = ("gait", "steady", "chain")
# Actions that read the same however long they last: held for a long stretch in "steady" performances.
STEADY_ACTIONS = {"march": "seconds", "sway": "seconds", "idle": "seconds", "jumping_jacks": "count", "clap": "count"}
# Seconds over which a gait's speed and style change from one segment to the next.
GAIT_TRANSITION = 1.2
# Still frames kept on each side of a joint between chained clips (a brief pause, not a full rest).
CHAIN_PAUSE = 3
CHAIN_BLEND = 4


@dataclass(frozen=True)
class Segment:
    """One labelled stretch of a performance: frames [start, end)."""

    action: str
    params: dict[str, Any]
    text: str
    start: int
    end: int


@dataclass
class Performance:
    """A long take: positions [T, 22, 3] float32 (y up, on the floor) at 20 fps and its segments in order."""

    positions: np.ndarray
    segments: list[Segment]
    kind: str

    def frame_labels(self) -> np.ndarray:
        """Index of the segment each frame belongs to, [T] int."""
        labels = np.zeros(len(self.positions), dtype=np.int64)
        for index, segment in enumerate(self.segments):
            labels[segment.start:segment.end] = index
        return labels


def _gait_style(runness: np.ndarray, speed: np.ndarray) -> dict[str, np.ndarray]:
    """Walk (runness 0) and run (1) styles of actions.walk and actions.run, blended."""
    def mix(walking: Any, running: Any) -> np.ndarray:
        return (1 - runness) * walking + runness * running

    return {"lean": mix(0.05 + 0.04 * speed, 0.2 + 0.03 * speed), "arm_gain": mix(1.0, 1.2), "elbow": mix(0.25, 1.4),
            "bob": mix(0.0, 0.05), "crouch": mix(0.02, 0.05), "sway": mix(0.025, 0.015)}


def _gait_performance(scene: ActionContext, split: str, seconds: float) -> Performance:
    """Walks and runs at changing speeds in one take, each change a gradual speed-up or slow-down."""
    rng = scene.rng
    plan: list[tuple[str, float, float]] = []
    left = seconds
    while left >= 4.0 and len(plan) < 4:
        kind = "run" if rng.random() < 0.35 else "walk"
        length = min(left, float(rng.uniform(4.0, 30.0))) if len(plan) < 3 else left
        plan.append((kind, ACTIONS[kind].params["speed"].sample(rng), length))
        left -= length
    return _gait_take(scene, plan, split)


def _gait_take(scene: ActionContext, plan: list[tuple[str, float, float]], split: str) -> Performance:
    """One take of walks and runs: (action, speed m/s, seconds) in order, changing gradually from one to the next."""
    rng, body = scene.rng, scene.body
    hold = scene.hold() + 0.2
    bounds = hold + np.cumsum([length for _, _, length in plan])
    runness_of = np.array([1.0 if kind == "run" else 0.0 for kind, _, _ in plan])
    speed_of = np.array([speed for _, speed, _ in plan])

    def along(values: np.ndarray, t: np.ndarray) -> np.ndarray:
        out = np.full_like(t, values[0], dtype=float)
        for boundary, before, after in zip(bounds[:-1], values[:-1], values[1:]):
            out += (after - before) * min_jerk((t - boundary) / GAIT_TRANSITION + 0.5)
        return out

    tempo = rng.uniform(0.95, 1.05)
    lift = rng.uniform(0.07, 0.11)
    walk_width = body.stance_width * rng.uniform(0.8, 1.3)
    steps: list[Step] = []
    t, z, foot, end = hold, 0.0, int(rng.integers(2)), float(bounds[-1])
    while t < end:
        point = np.array([t])
        runness, speed = float(along(runness_of, point)[0]), float(along(speed_of, point)[0])
        period = tempo / ((1 - runness) * (1.5 + 0.3 * speed) + runness * (2.5 + 0.2 * speed))
        # Start and stop over about three steps, like a person setting off and halting.
        ramp = min(1.0, (len(steps) + 1) / 3.0, max(end - t, 0.0) / (3 * period) + 1 / 3)
        z += speed * period * ramp
        width = (1 - runness) * walk_width + runness * 0.8 * body.stance_width
        steps.append(Step(foot, t, (0.8 + 0.6 * runness * ramp) * period, SIDE[foot] * width, z, 0.0,
                          (1 - runness) * lift + runness * (0.08 + 0.12 * ramp)))
        t += period
        foot = 1 - foot
    steps.append(Step(foot, t, 0.8 * period, SIDE[foot] * walk_width, z, 0.0, lift))
    frames = int(np.ceil((t + period + hold + 0.2) * scene.fps))
    times = scene.time(frames)
    style = _gait_style(along(runness_of, times), along(speed_of, times))
    positions = build(gait(scene, steps, frames, **style), body)
    cuts = [0, *[int(round(b * scene.fps)) for b in bounds[:-1]], frames]
    segments = []
    for (kind, speed, length), start, stop in zip(plan, cuts[:-1], cuts[1:]):
        params = {"speed": float(speed), "seconds": float(length)}
        segments.append(Segment(kind, params, describe(kind, params, split, rng), start, stop))
    return Performance(_on_floor(positions), segments, "gait")


def _steady_performance(scene: ActionContext, split: str, seconds: float) -> Performance:
    """One repetitive action held for a long stretch."""
    names = sorted(STEADY_ACTIONS)
    return _held(scene, names[int(scene.rng.integers(len(names)))], None, seconds, split)


def _held(scene: ActionContext, action: str, params: dict[str, Any] | None, seconds: float, split: str) -> Performance:
    """`action` (given parameters, the rest drawn) stretched to about `seconds` through its length or count."""
    rng = scene.rng
    spec = ACTIONS[action]
    params = {name: (params or {}).get(name, p.sample(rng)) for name, p in spec.params.items()}
    params.update(held_params(action, params, seconds))
    positions = build(spec.program(scene, params), scene.body)
    return Performance(_on_floor(positions), [Segment(action, params, describe(action, params, split, rng), 0, len(positions))],
                       "steady")


def held_params(action: str, params: dict[str, Any], seconds: float) -> dict[str, Any]:
    """The parameter that makes a repetitive action last about `seconds`: its length, or its count of repetitions."""
    if action not in STEADY_ACTIONS:
        return {}
    if STEADY_ACTIONS[action] == "seconds":
        return {"seconds": seconds}
    # About one repetition a second, as these actions' programs pace them.
    return {"count": max(int(ACTIONS[action].params["count"].high), int(seconds))}


def _heading(positions: np.ndarray) -> float:
    """Facing yaw of a pose (0 faces +z), read from the hips."""
    across = positions[1] - positions[2]
    return float(np.arctan2(-across[2], across[0]))


def _still_frames(positions: np.ndarray, from_end: bool) -> int:
    """How many frames at the start (or end) hold still: every joint under 5 cm/s."""
    speed = np.linalg.norm(np.diff(positions, axis=0), axis=-1).max(-1) * FPS
    moving = np.flatnonzero(speed > 0.05)
    if len(moving) == 0:
        return len(positions)
    return int(len(speed) - 1 - moving[-1]) if from_end else int(moving[0])


def _placed(positions: np.ndarray, after: np.ndarray) -> np.ndarray:
    """`positions` turned and moved on the floor so its first pose stands where and as `after`'s last one does."""
    turn = _heading(after[-1]) - _heading(positions[0])
    pivot = positions[0, 0] * np.array([1.0, 0.0, 1.0])
    turned = (positions - pivot) @ rot_y(turn).T
    return turned + after[-1, 0] * np.array([1.0, 0.0, 1.0])


def _chain_performance(scene: ActionContext, split: str, seconds: float) -> Performance:
    """Several clips of one person in a row, each starting where the last one stopped after a brief pause."""
    rng = scene.rng
    names = sorted(ACTIONS)
    pieces: list[Performance] = []
    while sum(len(p.positions) for p in pieces) < seconds * FPS and len(pieces) < 6:
        clip = generate_clip(names[int(rng.integers(len(names)))], None, rng, split, body=scene.body)
        pieces.append(Performance(clip.positions, [Segment(clip.action, clip.params, clip.text, 0, len(clip.positions))], "clip"))
    return _joined(pieces, "chain")


def _joined(pieces: list[Performance], kind: str) -> Performance:
    """Takes of one person one after another, each turned and moved to start where the last one stopped, with only a
    brief pause (the still frames at each joint cut to CHAIN_PAUSE) and a short blend between the two still poses."""
    joined = pieces[0].positions.astype(np.float64)
    joined = joined[:len(joined) - max(0, _still_frames(joined, True) - CHAIN_PAUSE)]
    segments = [*pieces[0].segments[:-1], replace(pieces[0].segments[-1], end=len(joined))]
    for piece in pieces[1:]:
        part = piece.positions.astype(np.float64)
        lead = max(0, _still_frames(part, False) - CHAIN_PAUSE)
        part = _placed(part[lead:], joined)
        part = part[:len(part) - max(0, _still_frames(part, True) - CHAIN_PAUSE)]
        weight = min_jerk((np.arange(CHAIN_BLEND) + 1) / (CHAIN_BLEND + 1))[:, None, None]
        blended = (1 - weight) * joined[-CHAIN_BLEND:] + weight * part[:CHAIN_BLEND]
        offset = len(joined) - CHAIN_BLEND - lead
        start = len(joined) - CHAIN_BLEND // 2
        joined = np.concatenate([joined[:-CHAIN_BLEND], blended, part[CHAIN_BLEND:]])
        segments[-1] = replace(segments[-1], end=start)
        moved = [replace(s, start=max(start, s.start + offset), end=min(len(joined), s.end + offset)) for s in piece.segments]
        segments += [*moved[:-1], replace(moved[-1], end=len(joined))]
    return Performance(_on_floor(joined), segments, kind)


def perform(plan: list[dict[str, Any]], rng: np.random.Generator, split: str = "heldout") -> Performance:
    """A performance of a script's segments (each an action, its parameters and seconds) by one person: walks and runs
    in a row as one take, repetitive actions held for their seconds, other actions as one clip each."""
    scene = ActionContext(body=sample_body(rng), rng=rng, max_frames=int((MAX_SECONDS + 5) * FPS))
    pieces: list[Performance] = []
    gaits: list[tuple[str, float, float]] = []
    for number, segment in enumerate(plan):
        action, params, seconds = segment["action"], segment["params"], float(segment["seconds"])
        if action in ("walk", "run"):
            gaits.append((action, float(params["speed"]), seconds))
            if number + 1 < len(plan) and plan[number + 1]["action"] in ("walk", "run"):
                continue
            pieces.append(_gait_take(scene, gaits, split))
            gaits = []
        elif action in STEADY_ACTIONS:
            pieces.append(_held(scene, action, params, seconds, split))
        else:
            clip = generate_clip(action, params, rng, split, body=scene.body)
            pieces.append(Performance(clip.positions, [Segment(action, clip.params, clip.text, 0, len(clip.positions))],
                                      "clip"))
    return _joined(pieces, "script")


def _on_floor(positions: np.ndarray) -> np.ndarray:
    positions = positions.copy()
    positions[..., 1] -= positions[:, FOOT_JOINTS, 1].min()
    return positions.astype(np.float32)


def generate_performance(rng: np.random.Generator, split: str = "train", kind: str | None = None,
                         seconds: float | None = None, body: Body | None = None) -> Performance:
    """One performance of `kind` (default: drawn) lasting about `seconds` (default: 12-60 s), texts from `split`."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use one of {SPLITS}")
    if kind is None:
        kind = KINDS[int(rng.choice(len(KINDS), p=[0.45, 0.2, 0.35]))]
    if kind not in KINDS:
        raise ValueError(f"unknown performance kind {kind!r}; use one of {KINDS}")
    if seconds is None:
        seconds = float(rng.uniform(12.0, MAX_SECONDS))
    if not 4.0 <= seconds <= MAX_SECONDS:
        raise ValueError(f"a performance lasts 4 to {MAX_SECONDS:.0f} s, not {seconds}")
    scene = ActionContext(body=sample_body(rng) if body is None else body, rng=rng,
                          max_frames=int((MAX_SECONDS + 5) * FPS))
    make = {"gait": _gait_performance, "steady": _steady_performance, "chain": _chain_performance}[kind]
    return make(scene, split, seconds)


def corpus_performance(seed: int, index: int, split: str = "train") -> Performance:
    """Performance `index` drawn with `seed`: the same one however many others are drawn, in any order."""
    return generate_performance(np.random.default_rng([seed, index, 1]), split)
