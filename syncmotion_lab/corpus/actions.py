"""The action registry: each action's parameters and the program that turns them into rig controls."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from scipy.ndimage import gaussian_filter1d

from syncmotion.motion.skeleton import FPS
from syncmotion_lab.corpus.rig import DEFAULT_HINT, RELAXED_ARM, SIDE, Body, Controls, arm_pose, limit_reach, standing
from syncmotion_lab.corpus.steps import Step, apply_steps, bump, follow_feet, min_jerk, print_at, walking_steps

MIN_FRAMES, MAX_FRAMES = 40, 196
HAND_INDEX = {"left": 0, "right": 1}
# Extra still time at both ends of stepping actions: the pelvis path is smoothed over about this long.
GAIT_SETTLE = 0.2


@dataclass(frozen=True)
class Param:
    """A parameter's range: a float or int interval [low, high], or a set of choices."""

    low: float = 0.0
    high: float = 0.0
    choices: tuple[str, ...] = ()
    integer: bool = False

    def sample(self, rng: np.random.Generator) -> Any:
        """A value drawn uniformly from the range."""
        if self.choices:
            return str(self.choices[rng.integers(len(self.choices))])
        if self.integer:
            return int(rng.integers(int(self.low), int(self.high) + 1))
        return float(rng.uniform(self.low, self.high))

    def check(self, name: str, value: Any) -> Any:
        """The value if it is in range, else a ValueError naming the range."""
        if self.choices:
            if value not in self.choices:
                raise ValueError(f"parameter {name}={value!r} is not one of {list(self.choices)}")
            return value
        if not self.low <= float(value) <= self.high:
            raise ValueError(f"parameter {name}={value!r} is outside [{self.low}, {self.high}]")
        return int(value) if self.integer else float(value)


@dataclass
class ActionContext:
    """What an action program works with: the person, the frame rate and the clip's randomness."""

    body: Body
    rng: np.random.Generator
    fps: float = FPS
    # Performances lift the clip cap to hold one action for up to a minute.
    max_frames: int = MAX_FRAMES

    def frames(self, seconds: float) -> int:
        """Frame count of `seconds`, clamped to the clip length limits."""
        return int(np.clip(round(seconds * self.fps), MIN_FRAMES, self.max_frames))

    def time(self, frames: int) -> np.ndarray:
        """Frame times in seconds."""
        return np.arange(frames) / self.fps

    def hold(self) -> float:
        """Seconds of still standing at a clip's start or end."""
        return float(self.rng.uniform(0.3, 0.5))


@dataclass(frozen=True)
class Action:
    """A named action: its parameter ranges and its program (scene, params) -> controls."""

    name: str
    params: dict[str, Param]
    program: Callable[[ActionContext, dict[str, Any]], Controls] = field(repr=False)


def envelope(t: np.ndarray, start: float, end: float, ramp: float) -> np.ndarray:
    """0 before `start`, easing to 1 over `ramp` seconds, back to 0 by `end`."""
    return min_jerk((t - start) / ramp) * min_jerk((end - t) / ramp)


def pulses(t: np.ndarray, start: float, end: float, count: int) -> np.ndarray:
    """`count` smooth 0 -> 1 -> 0 bumps evenly filling [start, end]."""
    period = (end - start) / count
    phase = (t - start) / period
    inside = (phase >= 0) & (phase < count)
    return np.where(inside, bump(phase % 1.0), 0.0)


def _set_arm(c: Controls, hand: int, wrist: np.ndarray, elbow: np.ndarray, weight: np.ndarray) -> None:
    """Blend an arm's wrist target and elbow hint toward a pose with per-frame weight."""
    w = weight[:, None]
    c.wrists[:, hand] = (1 - w) * c.wrists[:, hand] + w * wrist
    c.elbows[:, hand] = (1 - w) * c.elbows[:, hand] + w * elbow


def _pose_arm(c: Controls, body: Body, hand: int, flex: Any, abduct: Any, elbow: Any, weight: np.ndarray,
              hint: np.ndarray | None = None) -> None:
    """Pose an arm by joint angles (see rig.arm_pose), eased from the relaxed arm by a per-frame weight.

    Easing the angles rather than the wrist keeps the elbow bending the natural way on the way there.
    """
    angles = [rest + weight * (np.broadcast_to(goal, c.frames) - rest)
              for rest, goal in zip(RELAXED_ARM, (flex, abduct, elbow))]
    if hint is not None:
        hint = DEFAULT_HINT + weight[:, None] * (hint - DEFAULT_HINT)
    wrist, elb = arm_pose(*angles, SIDE[hand], body.upper_arm, body.forearm, hint)
    _set_arm(c, hand, wrist, elb, np.ones(c.frames))


def _swing_arms(c: Controls, body: Body, gain: float, elbow: float, weight: np.ndarray) -> None:
    """Swing each arm with the opposite leg, and turn the pelvis with the legs and the chest against them."""
    rel = c.ankles[:, :, [0, 2]] - c.root[:, None, [0, 2]]
    forward = rel[..., 0] * np.sin(c.yaw)[:, None] + rel[..., 1] * np.cos(c.yaw)[:, None]
    # A left foot ahead brings the left hip forward (pelvis turned right) and the right shoulder forward.
    ahead = (forward[:, 0] - forward[:, 1]) * weight
    c.yaw -= 0.3 * ahead
    c.twist += 0.45 * ahead
    for hand in range(2):
        flex = gain * forward[:, 1 - hand] * weight
        bent = 0.15 + (elbow - 0.15) * weight + 0.5 * np.maximum(flex, 0)
        _pose_arm(c, body, hand, flex, 0.12, bent, np.ones(c.frames))


def _sway_over_support(c: Controls, swing: np.ndarray, amount: float, fps: float) -> None:
    """Shift the pelvis sideways over the planted foot while the other one swings."""
    shift = amount * (bump(swing[:, 1]) - bump(swing[:, 0]))
    shift = gaussian_filter1d(shift, 0.1 * fps, mode="nearest")
    c.root[:, 0] += shift * np.cos(c.yaw)
    c.root[:, 2] -= shift * np.sin(c.yaw)
    c.roll += 2.0 * shift


def _activity(swing: np.ndarray, fps: float, ramp: float = 0.5) -> np.ndarray:
    """0..1: eases in before the first step starts and out after the last one lands."""
    active = np.flatnonzero((swing > 0).any(1))
    t = np.arange(len(swing)) / fps
    if len(active) == 0:
        return np.zeros(len(swing))
    return envelope(t, t[active[0]] - 0.5 * ramp, t[active[-1]] + 0.5 * ramp, ramp)


Style = float | np.ndarray


def gait(scene: ActionContext, steps: list[Step], frames: int, lean: Style, arm_gain: Style, elbow: Style,
         bob: Style = 0.0, crouch: Style = 0.02, sway: Style = 0.025) -> Controls:
    """Controls of a stepping body: feet on the steps, pelvis over them, arms swinging; styles per frame or fixed."""
    body = scene.body
    # Personal style: how much this person swings the arms, rocks sideways and leans.
    arm_gain *= scene.rng.uniform(0.7, 1.3)
    sway *= scene.rng.uniform(0.6, 1.4)
    lean += scene.rng.uniform(-0.03, 0.05)
    c = standing(body, frames)
    swing = apply_steps(c, body, steps, scene.fps)
    follow_feet(c, scene.fps)
    active = _activity(swing, scene.fps)
    _sway_over_support(c, swing, sway, scene.fps)
    flight = (swing > 0).all(1).astype(float)
    c.root[:, 1] = body.stand_height - crouch * active + bob * gaussian_filter1d(flight, 1.0, mode="nearest")
    _swing_arms(c, body, arm_gain, elbow, active)
    limit_reach(c, body)
    c.hinge += lean * active
    c.head_pitch += 0.1 * active
    return c


def _step_count(seconds: float, period: float, hold: float) -> int:
    return max(2, int((seconds - 2 * hold) / period) - 1)


def walk(scene: ActionContext, p: dict[str, Any], direction: float = 1.0) -> Controls:
    """Walk forward (direction 1) or backward (-1) at p['speed'] m/s."""
    speed = p["speed"]
    cadence = (1.5 + 0.3 * speed) * (1.0 if direction > 0 else 0.9)
    period = 1.0 / cadence * scene.rng.uniform(0.95, 1.05)
    hold = scene.hold() + GAIT_SETTLE
    count = _step_count(p["seconds"], period, hold)
    # Nobody walks a perfectly straight line: a slight drift of about a degree per step either way.
    drift = scene.rng.normal(0.0, 0.015)
    steps = walking_steps(scene.body, int(scene.rng.integers(2)), count, (0.0, direction * speed * period),
                          drift, period, 0.8, scene.rng.uniform(0.07, 0.11), hold,
                          width=scene.body.stance_width * scene.rng.uniform(0.8, 1.3))
    frames = scene.frames((count + 1) * period + 2 * hold + 0.2)
    lean = 0.05 + 0.04 * speed if direction > 0 else -0.02
    return gait(scene, steps, frames, lean, 1.0 * direction, 0.25)


def walk_backward(scene: ActionContext, p: dict[str, Any]) -> Controls:
    """Walk backward."""
    return walk(scene, p, -1.0)


def run(scene: ActionContext, p: dict[str, Any]) -> Controls:
    """Run forward with flight phases at p['speed'] m/s."""
    speed = p["speed"]
    period = 1.0 / (2.5 + 0.2 * speed) * scene.rng.uniform(0.95, 1.05)
    hold = scene.hold() + GAIT_SETTLE
    count = _step_count(p["seconds"], period, hold + 0.3)
    steps = []
    # Speed up over the first steps and slow down over the last ones, like a person starting and stopping.
    poses = [(0.0, 0.0)]
    for k in range(count):
        ramp = min(1.0, (k + 1) / 3.0, (count - k) / 3.0)
        poses.append((0.0, poses[-1][1] + speed * period * ramp))
    first = int(scene.rng.integers(2))
    width = scene.body.stance_width * 0.8
    for k in range(count + 1):
        foot = (first + k) % 2
        z = poses[min(k + 1, count)][1]
        ramp = min(1.0, (k + 1) / 3.0, (count - k + 1) / 3.0)
        swing = 0.8 + 0.6 * ramp
        lift = 0.08 + 0.12 * ramp
        steps.append(Step(foot, hold + k * period, swing * period, SIDE[foot] * width, z, 0.0, lift))
    frames = scene.frames(count * period + 2 * hold + 0.6)
    c = gait(scene, steps, frames, 0.2 + 0.03 * speed, 1.2, 1.4, bob=0.05, crouch=0.05, sway=0.015)
    return c


def side_step(scene: ActionContext, p: dict[str, Any]) -> Controls:
    """Step sideways p['count'] times: the leading foot steps out, the other closes in."""
    lead = HAND_INDEX[p["direction"]]
    sign = SIDE[lead]
    size = p["size"]
    period = scene.rng.uniform(0.45, 0.65)
    hold = scene.hold() + GAIT_SETTLE
    width = scene.body.stance_width
    steps = []
    for k in range(p["count"]):
        center = sign * size * (k + 1)
        start = hold + k * 2 * period
        steps.append(Step(lead, start, 0.8 * period, center + sign * width, 0.0, 0.0, 0.06))
        steps.append(Step(1 - lead, start + period, 0.8 * period, center - sign * width, 0.0, 0.0, 0.05))
    frames = scene.frames(2 * p["count"] * period + 2 * hold + 0.3)
    c = gait(scene, steps, frames, 0.0, 0.0, 0.2, sway=0.0)
    active = _activity((c.ankles[:, :, 1] > scene.body.ankle_height + 1e-3).astype(float), scene.fps)
    for hand in range(2):
        _pose_arm(c, scene.body, hand, 0.1, 0.25, 0.3, active)
    return c


def turn(scene: ActionContext, p: dict[str, Any]) -> Controls:
    """Turn in place by p['angle'] degrees to p['direction'] with small stepping turns."""
    sign = 1.0 if p["direction"] == "left" else -1.0
    total = np.radians(p["angle"]) * sign
    count = max(2, int(np.ceil(abs(total) / np.radians(50))))
    period = scene.rng.uniform(0.4, 0.55) * p.get("pace", 1.0)
    hold = scene.hold() + GAIT_SETTLE
    lead = 0 if sign > 0 else 1
    width = scene.body.stance_width
    steps = []
    for k in range(count + 1):
        foot = (lead + k) % 2
        yaw = total * min(k + 1, count) / count
        x, z = print_at(0.0, 0.0, yaw, foot, width)
        steps.append(Step(foot, hold + k * period, 0.85 * period, x, z, yaw, 0.06))
    frames = scene.frames((count + 1) * period + 2 * hold + 0.2)
    c = gait(scene, steps, frames, 0.0, 0.3, 0.3, sway=0.015)
    c.head_yaw += 0.25 * sign * _activity((c.ankles[:, :, 1] > scene.body.ankle_height + 1e-3).astype(float), scene.fps)
    return c


def spin(scene: ActionContext, p: dict[str, Any]) -> Controls:
    """Spin all the way around in quick steps."""
    return turn(scene, {"direction": p["direction"], "angle": 360.0 * p["turns"], "pace": 0.7})


def walk_turn(scene: ActionContext, p: dict[str, Any]) -> Controls:
    """Walk forward along a curve that turns p['angle'] degrees to p['direction']."""
    sign = 1.0 if p["direction"] == "left" else -1.0
    speed = p["speed"]
    period = 1.0 / (1.5 + 0.3 * speed)
    hold = scene.hold() + GAIT_SETTLE
    count = _step_count(p["seconds"], period, hold)
    per_step = sign * np.radians(p["angle"]) / count
    steps = walking_steps(scene.body, 0 if sign > 0 else 1, count, (0.0, speed * period), per_step, period, 0.8,
                          scene.rng.uniform(0.07, 0.1), hold)
    frames = scene.frames((count + 1) * period + 2 * hold + 0.2)
    return gait(scene, steps, frames, 0.06, 1.0, 0.25)


def march(scene: ActionContext, p: dict[str, Any]) -> Controls:
    """March in place lifting the knees high, arms swinging bent."""
    period = 1.0 / p["tempo"]
    hold = scene.hold() + GAIT_SETTLE
    count = _step_count(p["seconds"], period, hold)
    steps = walking_steps(scene.body, int(scene.rng.integers(2)), count, (0.0, 0.0), 0.0, period, 0.85,
                          p["lift"], hold)
    frames = scene.frames((count + 1) * period + 2 * hold + 0.2)
    c = gait(scene, steps, frames, 0.0, 0.0, 0.3, sway=0.02)
    # Marching swings the arm against the lifted knee: drive it by the other foot's height.
    lifted = (c.ankles[:, :, 1] - scene.body.ankle_height) / max(p["lift"], 1e-3)
    active = _activity((lifted > 1e-3).astype(float), scene.fps)
    for hand in range(2):
        flex = 0.9 * lifted[:, 1 - hand] - 0.3 * lifted[:, hand]
        _pose_arm(c, scene.body, hand, flex, 0.1, 1.2, active)
    return c


def _jumps(scene: ActionContext, p: dict[str, Any], distance: float, one_leg: int | None) -> Controls:
    """`count` two-footed (or one-footed) jumps, each covering `distance` metres forward."""
    body = scene.body
    height = p["height"]
    count = p["count"]
    flight = 2 * np.sqrt(2 * height / 9.81) + 0.12
    prep = scene.rng.uniform(0.45, 0.6) if one_leg is None else 0.3
    land = 0.45 if one_leg is None else 0.25
    hold = scene.hold() + 0.2
    frames = scene.frames(2 * hold + count * (prep + flight + land))
    c = standing(body, frames)
    t = scene.time(frames)
    steps = []
    takeoffs = []
    width = body.stance_width
    for k in range(count):
        takeoff = hold + prep + k * (prep + flight + land)
        takeoffs.append(takeoff)
        feet = (0, 1) if one_leg is None else (one_leg,)
        for foot in feet:
            # The feet rise a bit more than the pelvis: the knees tuck in the air.
            steps.append(Step(foot, takeoff, flight, SIDE[foot] * width, distance * (k + 1), 0.0, 1.3 * height))
    apply_steps(c, body, steps, scene.fps)
    if one_leg is not None:
        # The free foot rides along beside and behind the hopping one, knee bent, and lands beside it at the end.
        free = 1 - one_leg
        w = envelope(t, hold - 0.2, t[-1] - hold + 0.2, 0.3)
        c.ankles[:, free, 0] = SIDE[free] * width
        c.ankles[:, free, 1] = c.ankles[:, one_leg, 1] + 0.3 * w
        c.ankles[:, free, 2] = c.ankles[:, one_leg, 2] - 0.3 * w
        c.foot_pitch[:, free] += 0.5 * w
    middle = c.ankles[:, :, [0, 2]].mean(1) if one_leg is None else c.ankles[:, one_leg, [0, 2]]
    c.root[:, 0] = gaussian_filter1d(middle[:, 0], 0.06 * scene.fps, mode="nearest")
    c.root[:, 2] = gaussian_filter1d(middle[:, 1], 0.06 * scene.fps, mode="nearest")
    if one_leg is not None:
        c.root[:, 0] -= SIDE[one_leg] * width * 0.3
        c.roll += SIDE[one_leg] * 0.06 * w
    height_t = np.full(frames, body.stand_height)
    crouch_depth = p.get("crouch", 0.18)
    arm_flex = np.zeros(frames)
    for takeoff in takeoffs:
        u_prep = (t - (takeoff - prep)) / (prep + 0.08)
        u_land = (t - (takeoff + flight - 0.06)) / (land + 0.06)
        u_air = (t - takeoff) / flight
        height_t -= crouch_depth * bump(u_prep) + 0.8 * crouch_depth * bump(u_land)
        height_t += height * bump(u_air)
        arm_flex += -0.7 * bump(u_prep * 1.3) + 2.2 * bump((t - takeoff + 0.15) / (flight + 0.2))
    c.root[:, 1] = height_t
    limit_reach(c, body)
    c.hinge += 0.5 * (body.stand_height - height_t).clip(0) / max(crouch_depth, 1e-3) * (0.4 + 0.4 * (distance > 0))
    for hand in range(2):
        _pose_arm(c, body, hand, arm_flex * (0.6 if one_leg is not None else 1.0), 0.15, 0.3,
                  np.ones(frames))
    return c


def jump_in_place(scene: ActionContext, p: dict[str, Any]) -> Controls:
    """Jump straight up p['count'] times."""
    return _jumps(scene, p, 0.0, None)


def jump_forward(scene: ActionContext, p: dict[str, Any]) -> Controls:
    """Jump forward p['count'] times, p['distance'] metres each."""
    return _jumps(scene, {**p, "height": 0.15 + 0.15 * p["distance"], "crouch": 0.22}, p["distance"], None)


def hop(scene: ActionContext, p: dict[str, Any]) -> Controls:
    """Hop p['count'] times on one leg."""
    return _jumps(scene, {**p, "crouch": 0.08}, p["distance"], HAND_INDEX[p["leg"]])


def _fidget(scene: ActionContext, c: Controls, t: np.ndarray, start: float, end: float, shift: float, look: float) -> None:
    """Slow weight shifts from foot to foot and glances, as people do while standing."""
    live = envelope(t, start, end, 0.6)
    phase = scene.rng.uniform(0, 2 * np.pi)
    side = shift * np.sin(2 * np.pi * t / scene.rng.uniform(2.5, 4.0) + phase) * live
    c.root[:, 0] += side
    c.roll += 0.8 * side
    c.head_yaw += look * np.sin(2 * np.pi * t / scene.rng.uniform(3.0, 5.0) + phase) * live


def _still(scene: ActionContext, seconds: float) -> tuple[Controls, np.ndarray, float, float]:
    """Standing controls (with a little fidgeting) for about `seconds`, the frame times and the active interval."""
    frames = scene.frames(seconds)
    t = scene.time(frames)
    hold = scene.hold()
    c = standing(scene.body, frames)
    _fidget(scene, c, t, hold, t[-1] - hold, scene.rng.uniform(0.0, 0.012), scene.rng.uniform(0.0, 0.06))
    return c, t, hold, t[-1] - hold


def squat(scene: ActionContext, p: dict[str, Any]) -> Controls:
    """Squat down and up p['count'] times, p['depth'] metres deep."""
    each = scene.rng.uniform(1.4, 2.0) / p["tempo"]
    c, t, a, b = _still(scene, p["count"] * each + 0.8)
    down = pulses(t, a, b, p["count"])
    c.root[:, 1] -= p["depth"] * down
    c.root[:, 2] -= 0.12 * down * p["depth"] / 0.4
    c.hinge += 0.5 * down * p["depth"] / 0.4
    c.bend += 0.2 * down * p["depth"] / 0.4
    c.head_pitch -= 0.3 * down
    limit_reach(c, scene.body)
    for hand in range(2):
        _pose_arm(c, scene.body, hand, 1.4, 0.1, 0.1, down)
    return c


def sit_down(scene: ActionContext, p: dict[str, Any]) -> Controls:
    """Sit down (on nothing, as on a low chair), stay a moment, stand back up."""
    c, t, a, b = _still(scene, p["seconds"])
    down = envelope(t, a, b, scene.rng.uniform(0.8, 1.2))
    c.root[:, 1] -= p["depth"] * down
    c.root[:, 2] -= 0.22 * down
    c.hinge += down * (0.6 - 0.4 * envelope(t, a + 1.1, b - 1.1, 0.4))
    c.bend += 0.15 * down
    limit_reach(c, scene.body)
    sitting = envelope(t, a + 0.6, b - 0.6, 0.5)
    for hand in range(2):
        # Hands come to rest on the thighs.
        _pose_arm(c, scene.body, hand, 0.7, 0.05, 0.9, sitting)
    return c


def kneel(scene: ActionContext, p: dict[str, Any]) -> Controls:
    """Step back with one leg and go down on that knee, stay, then get up."""
    body = scene.body
    back = HAND_INDEX[p["knee"]]
    front = 1 - back
    c, t, a, b = _still(scene, p["seconds"])
    width = body.stance_width
    knee_y = 0.06
    # The kneeling knee lands under the hip, which sits back over the standing foot's heel.
    pelvis_back = 0.18
    ankle_back = -pelvis_back - body.shin * 0.97
    down_time = 1.1
    steps = [Step(back, a, 0.6, SIDE[back] * width, ankle_back - 0.05, 0.0, 0.05),
             Step(back, b - 0.6, 0.6, SIDE[back] * width, 0.0, 0.0, 0.05)]
    apply_steps(c, body, steps, scene.fps)
    down = envelope(t, a + 0.3, b - 0.1, down_time)
    c.ankles[:, back, 1] += (knee_y + 0.05) * down
    c.foot_pitch[:, back] += 1.2 * down
    c.root[:, 1] = body.stand_height - down * (body.stand_height - (knee_y + body.thigh * 0.97 + 0.045))
    c.root[:, 2] = -pelvis_back * down
    limit_reach(c, body)
    c.head_pitch += 0.2 * down
    for hand in range(2):
        _pose_arm(c, body, hand, 0.2 + 0.5 * (hand == front), 0.1, 0.6 + 0.6 * (hand == front), down)
    return c


def kick(scene: ActionContext, p: dict[str, Any]) -> Controls:
    """Kick forward p['count'] times with one leg, the foot reaching p['height'] metres."""
    body = scene.body
    leg = HAND_INDEX[p["leg"]]
    each = scene.rng.uniform(0.9, 1.2)
    c, t, a, b = _still(scene, p["count"] * each + 1.4)
    shift = envelope(t, a, b, 0.35)
    kicks = pulses(t, a + 0.3, b - 0.3, p["count"])
    # Weight moves over the standing leg first; the kicking foot then swings up along an arc.
    lateral = -SIDE[leg] * 0.06 * shift
    c.root[:, 0] += lateral
    c.roll += -SIDE[leg] * 0.05 * shift
    reach = body.thigh + body.shin
    hip_y = body.stand_height - 0.045
    angle = kicks * np.arccos(np.clip((hip_y - p["height"]) / (0.97 * reach), -0.3, 0.99))
    foot = c.ankles[:, leg].copy()
    foot[:, 1] = hip_y - reach * 0.97 * np.cos(angle)
    foot[:, 2] = reach * 0.97 * np.sin(angle)
    lift_off = np.clip(kicks * 4, 0, 1)
    c.ankles[:, leg] = (1 - lift_off[:, None]) * c.ankles[:, leg] + lift_off[:, None] * foot
    # The foot leaves the floor upward before it swings forward, so it never scuffs along the floor.
    c.ankles[:, leg, 1] = np.maximum(c.ankles[:, leg, 1], body.ankle_height + 0.25 * np.clip(kicks * 3, 0, 1))
    c.foot_pitch[:, leg] += 0.6 * kicks
    c.hinge -= 0.25 * kicks
    for hand in range(2):
        _pose_arm(c, body, hand, 0.3 + 0.3 * (hand != leg) * kicks, 0.35, 0.8, shift)
    limit_reach(c, body, 0.0)
    return c


def punch(scene: ActionContext, p: dict[str, Any]) -> Controls:
    """Punch forward p['count'] times with one hand or alternating hands."""
    body = scene.body
    each = scene.rng.uniform(0.45, 0.7) / p["tempo"]
    c, t, a, b = _still(scene, p["count"] * each + 1.4)
    guard = envelope(t, a, b, 0.4)
    for hand in range(2):
        _pose_arm(c, body, hand, 0.55, 0.25, 2.1, guard, hint=np.array([-SIDE[hand] * 0.3, 1.0, 0.3]))
    shoulder = body.shoulder_offset()
    for k in range(p["count"]):
        hand = HAND_INDEX[p["hand"]] if p["hand"] != "both" else k % 2
        start = a + 0.35 + k * each
        hit = bump((t - start) / each) ** 0.7
        target = np.array([-SIDE[hand] * shoulder[0] * 0.6, -0.02, (body.upper_arm + body.forearm) * 0.97])
        c.wrists[:, hand] = (1 - hit[:, None]) * c.wrists[:, hand] + hit[:, None] * target
        c.elbows[:, hand] = (1 - hit[:, None]) * c.elbows[:, hand] + hit[:, None] * np.array([SIDE[hand], -1.0, 0.0])
        c.twist += -SIDE[hand] * 0.3 * hit
    c.bend += 0.08 * guard
    return c


def wave(scene: ActionContext, p: dict[str, Any]) -> Controls:
    """Wave p['count'] times with one or both hands raised."""
    body = scene.body
    each = scene.rng.uniform(0.4, 0.6)
    c, t, a, b = _still(scene, p["count"] * each + 1.6)
    up = envelope(t, a, b, 0.5)
    hands = (0, 1) if p["hand"] == "both" else (HAND_INDEX[p["hand"]],)
    phase = np.sin(2 * np.pi * (t - a - 0.5) / each) * envelope(t, a + 0.3, b - 0.3, 0.3)
    for hand in hands:
        # Upper arm out to the side, forearm up; waving swings the forearm about the elbow.
        abduct = 1.0 + 0.5 * p["height"]
        _pose_arm(c, body, hand, 0.25, abduct, 1.35 + 0.35 * phase, up, hint=np.array([0.0, 1.0, 0.3]))
        c.lean += -SIDE[hand] * 0.04 * up
    c.head_yaw += 0.1 * up * (1 if hands == (0,) else -1 if hands == (1,) else 0)
    return c


def raise_arms(scene: ActionContext, p: dict[str, Any]) -> Controls:
    """Raise both arms (forward or out to the sides), hold them up, lower them."""
    c, t, a, b = _still(scene, p["seconds"])
    up = envelope(t, a, b, scene.rng.uniform(0.6, 0.9))
    sideways = p["way"] == "sides"
    for hand in range(2):
        if sideways:
            _pose_arm(c, scene.body, hand, 0.0, p["height"], 0.05, up, hint=np.array([0.0, 1.0, 0.2]))
        else:
            _pose_arm(c, scene.body, hand, p["height"], 0.1, 0.05, up)
    c.head_pitch -= 0.15 * up * (p["height"] > 2.2)
    return c


def clap(scene: ActionContext, p: dict[str, Any]) -> Controls:
    """Clap the hands p['count'] times in front of the chest."""
    body = scene.body
    each = scene.rng.uniform(0.35, 0.5) / p["tempo"]
    c, t, a, b = _still(scene, p["count"] * each + 1.2)
    ready = envelope(t, a, b, 0.4)
    claps = pulses(t, a + 0.4, b - 0.4, p["count"])
    opening = 0.12 * (1 - claps)
    shoulder = body.shoulder_offset()
    for hand in range(2):
        s = SIDE[hand]
        target = np.stack([(-s * (shoulder[0] - 0.035 - opening)), np.full_like(t, -0.22),
                           np.full_like(t, 0.33)], -1)
        _set_arm(c, hand, target, np.broadcast_to(np.array([s * 0.7, -1.0, -0.2]), target.shape), ready)
    return c


def stretch(scene: ActionContext, p: dict[str, Any]) -> Controls:
    """Stretch both arms up overhead, lean side to side, come back."""
    c, t, a, b = _still(scene, p["seconds"])
    up = envelope(t, a, b, 0.8)
    for hand in range(2):
        _pose_arm(c, scene.body, hand, 2.9, -0.2, 0.1, up)
    side = envelope(t, a + 1.0, b - 1.0, 0.6) * np.sin(2 * np.pi * (t - a - 1.0) / max(b - a - 2.0, 1.0))
    c.lean += p["lean"] * side
    c.root[:, 1] += 0.02 * up
    c.head_pitch -= 0.2 * up
    return c


def bow(scene: ActionContext, p: dict[str, Any]) -> Controls:
    """Bow forward from the hips p['depth'] radians, then straighten."""
    c, t, a, b = _still(scene, p["seconds"])
    down = envelope(t, a, b, scene.rng.uniform(0.6, 0.9))
    c.hinge += 0.7 * p["depth"] * down
    c.bend += 0.3 * p["depth"] * down
    c.root[:, 2] -= 0.1 * p["depth"] * down
    c.head_pitch += 0.2 * down
    for hand in range(2):
        # Arms keep hanging toward the floor while the chest tips forward.
        _pose_arm(c, scene.body, hand, 0.9 * p["depth"] * down + 0.05, 0.08, 0.15, np.ones(c.frames))
    return c


def crawl(scene: ActionContext, p: dict[str, Any]) -> Controls:
    """Get down on hands and knees, crawl forward p['count'] cycles, get back up where the crawl ended."""
    body = scene.body
    period = 1.0 / p["tempo"]
    count = p["count"]
    stride = p["stride"]
    down_s = 1.1
    hold = scene.hold()
    frames = scene.frames(2 * hold + 2 * down_s + (count + 1) * period)
    t = scene.time(frames)
    c = standing(body, frames)
    low = envelope(t, hold, t[-1] - hold, down_s)
    crawl_t0 = hold + down_s
    travel = np.clip((t - crawl_t0) / (count * period), 0, 1) * count * stride
    travel = gaussian_filter1d(travel, 0.2 * scene.fps, mode="nearest")
    c.ankles[:, :, 2] += travel[:, None]
    knee_y = 0.07
    hip_y = knee_y + body.thigh * 0.98 + 0.045
    hand_reach = body.lengths[[3, 6, 9]].sum() + 0.08
    c.wrists_world = np.zeros((frames, 2, 3))
    c.world_weight = np.zeros((frames, 2))
    for i in range(2):
        # Each knee moves one stride per cycle, half a cycle after the other; the opposite hand leads it
        # by a quarter cycle.
        knee_at = [crawl_t0 + (k + 0.5 * i) * period for k in range(count)]
        hand_at = [moment - 0.25 * period for moment in knee_at]
        knee_z = stride * sum(min_jerk((t - m) / (0.5 * period)) for m in knee_at)
        knee_lift = sum(bump((t - m) / (0.5 * period)) for m in knee_at)
        hand_z = stride * sum(min_jerk((t - m) / (0.5 * period)) for m in hand_at)
        hand_lift = sum(bump((t - m) / (0.5 * period)) for m in hand_at)
        ankle = np.stack([np.full(frames, SIDE[i] * body.stance_width), knee_y + 0.08 + 0.09 * knee_lift,
                          knee_z - body.shin * 0.95], -1)
        c.ankles[:, i] = (1 - low[:, None]) * c.ankles[:, i] + low[:, None] * ankle
        c.foot_pitch[:, i] += 1.9 * low
        hand = 1 - i
        c.wrists_world[:, hand] = np.stack([np.full(frames, SIDE[hand] * 0.17), 0.04 + 0.06 * hand_lift,
                                            hand_reach + hand_z], -1)
        c.world_weight[:, hand] = min_jerk((low - 0.3) / 0.7)
    c.root[:, 2] = travel
    c.root[:, 1] = (1 - low) * body.stand_height + low * hip_y
    c.hinge += 1.3 * low
    c.bend += 0.15 * low
    c.head_pitch -= 1.0 * low
    for hand in range(2):
        _pose_arm(c, body, hand, 1.2, 0.1, 0.3, low)
    limit_reach(c, body)
    return c


def jumping_jacks(scene: ActionContext, p: dict[str, Any]) -> Controls:
    """Jumping jacks: hop the feet apart while the arms swing up overhead, then back together."""
    body = scene.body
    period = 1.0 / p["tempo"]
    hold = scene.hold()
    frames = scene.frames(p["count"] * period + 2 * hold + 0.3)
    c = standing(body, frames)
    t = scene.time(frames)
    narrow, wide = body.stance_width, body.stance_width + p["spread"]
    flight = 0.22
    steps = []
    for k in range(p["count"]):
        for half, x in ((0.0, wide), (0.5, narrow)):
            start = hold + (k + half) * period
            steps.extend(Step(foot, start, flight, SIDE[foot] * x, 0.0, 0.0, 0.06) for foot in range(2))
    apply_steps(c, body, steps, scene.fps)
    apart = (c.ankles[:, 0, 0] - c.ankles[:, 1, 0] - 2 * narrow) / (2 * p["spread"])
    airborne = c.ankles[:, :, 1].min(1) - body.ankle_height
    landing = sum(bump((t - hold - (k + h) * period - flight + 0.05) / 0.3)
                  for k in range(p["count"]) for h in (0.0, 0.5))
    c.root[:, 1] = body.stand_height + airborne - 0.04 * landing
    limit_reach(c, body, 0.0)
    for hand in range(2):
        _pose_arm(c, body, hand, 0.1, 0.1 + 2.6 * apart, 0.2, np.ones(frames), hint=np.array([0.0, 1.0, 0.3]))
    return c


def arm_circles(scene: ActionContext, p: dict[str, Any]) -> Controls:
    """Hold both arms out to the sides and circle them p['count'] times, forward or backward."""
    each = scene.rng.uniform(0.6, 0.9)
    c, t, a, b = _still(scene, p["count"] * each + 1.6)
    out = envelope(t, a, b, 0.6)
    turning = envelope(t, a + 0.5, b - 0.5, 0.3)
    angle = 2 * np.pi * (t - a - 0.5) / each * (1.0 if p["direction"] == "forward" else -1.0)
    reach = scene.body.upper_arm + scene.body.forearm
    # Circles are drawn by the wrist in the plane across the outstretched arm (up/down, forward/back).
    circle = reach * p["size"] * turning[:, None] * np.stack([np.zeros_like(t), np.cos(angle) - 1, np.sin(angle)], -1)
    for hand in range(2):
        _pose_arm(c, scene.body, hand, 0.0, 1.45, 0.1, out)
        c.wrists[:, hand] += circle
    return c


def idle(scene: ActionContext, p: dict[str, Any]) -> Controls:
    """Stand still, shifting weight a little and breathing."""
    c, t, a, b = _still(scene, p["seconds"])
    _fidget(scene, c, t, a, b, scene.rng.uniform(0.015, 0.03), scene.rng.uniform(0.1, 0.25))
    c.root[:, 1] += 0.005 * np.sin(2 * np.pi * t / 3.5) * envelope(t, a, b, 0.6)
    return c


def look_around(scene: ActionContext, p: dict[str, Any]) -> Controls:
    """Stand and look left and right p['count'] times, turning head and chest."""
    c, t, a, b = _still(scene, p["count"] * scene.rng.uniform(1.4, 1.9) + 0.8)
    first = 1.0 if p["first"] == "left" else -1.0
    look = envelope(t, a, b, 0.5) * np.sin(2 * np.pi * p["count"] / 2 * (t - a) / (b - a)) * first
    c.head_yaw += 0.9 * look
    c.twist += 0.45 * look
    c.head_pitch -= 0.1 * envelope(t, a, b, 0.5)
    return c


def sway(scene: ActionContext, p: dict[str, Any]) -> Controls:
    """Sway the hips from side to side to a beat, knees bouncing and arms swinging."""
    c, t, a, b = _still(scene, p["seconds"])
    live = envelope(t, a, b, 0.6)
    beat = 2 * np.pi * p["tempo"] * (t - a)
    side = np.sin(beat / 2) * live
    c.root[:, 0] += p["amplitude"] * side
    c.roll += 1.5 * p["amplitude"] * side
    c.lean -= 2.0 * p["amplitude"] * side
    c.root[:, 1] -= 0.03 * (1 - np.cos(beat)) / 2 * live
    limit_reach(c, scene.body)
    raised = float(scene.rng.uniform(0.3, 1.4))
    for hand in range(2):
        _pose_arm(c, scene.body, hand, raised + 0.3 * side * SIDE[hand], 0.4, 1.3, live)
    c.head_yaw += 0.2 * side
    return c


ACTIONS: dict[str, Action] = {a.name: a for a in (
    Action("walk", {"speed": Param(0.6, 1.6), "seconds": Param(3.0, 9.5)}, walk),
    Action("walk_backward", {"speed": Param(0.4, 0.9), "seconds": Param(3.0, 8.0)}, walk_backward),
    Action("run", {"speed": Param(1.8, 3.2), "seconds": Param(2.5, 6.5)}, run),
    Action("side_step", {"direction": Param(choices=("left", "right")), "count": Param(1, 4, integer=True),
                         "size": Param(0.25, 0.45)}, side_step),
    Action("turn", {"direction": Param(choices=("left", "right")), "angle": Param(60.0, 180.0)}, turn),
    Action("walk_turn", {"direction": Param(choices=("left", "right")), "angle": Param(60.0, 120.0),
                         "speed": Param(0.7, 1.4), "seconds": Param(3.5, 8.0)}, walk_turn),
    Action("spin", {"direction": Param(choices=("left", "right")), "turns": Param(1, 2, integer=True)}, spin),
    Action("march", {"tempo": Param(1.4, 2.2), "lift": Param(0.2, 0.35), "seconds": Param(4.0, 9.0)}, march),
    Action("jump_in_place", {"count": Param(1, 3, integer=True), "height": Param(0.1, 0.35)}, jump_in_place),
    Action("jump_forward", {"count": Param(1, 2, integer=True), "distance": Param(0.4, 1.0)}, jump_forward),
    Action("hop", {"leg": Param(choices=("left", "right")), "count": Param(2, 5, integer=True),
                   "height": Param(0.06, 0.15), "distance": Param(0.0, 0.3)}, hop),
    Action("squat", {"count": Param(1, 3, integer=True), "depth": Param(0.25, 0.45), "tempo": Param(0.7, 1.3)}, squat),
    Action("sit_down", {"depth": Param(0.38, 0.46), "seconds": Param(4.0, 8.0)}, sit_down),
    Action("kneel", {"knee": Param(choices=("left", "right")), "seconds": Param(4.5, 8.0)}, kneel),
    Action("kick", {"leg": Param(choices=("left", "right")), "count": Param(1, 3, integer=True),
                    "height": Param(0.3, 0.9)}, kick),
    Action("punch", {"hand": Param(choices=("left", "right", "both")), "count": Param(1, 6, integer=True),
                     "tempo": Param(0.8, 1.4)}, punch),
    Action("wave", {"hand": Param(choices=("left", "right", "both")), "count": Param(2, 6, integer=True),
                    "height": Param(0.0, 1.0)}, wave),
    Action("raise_arms", {"way": Param(choices=("forward", "sides")), "height": Param(1.4, 2.9),
                          "seconds": Param(3.0, 6.0)}, raise_arms),
    Action("clap", {"count": Param(2, 8, integer=True), "tempo": Param(0.8, 1.4)}, clap),
    Action("stretch", {"lean": Param(0.0, 0.35), "seconds": Param(4.0, 8.0)}, stretch),
    Action("bow", {"depth": Param(0.4, 1.1), "seconds": Param(2.5, 5.0)}, bow),
    Action("crawl", {"count": Param(2, 3, integer=True), "tempo": Param(0.7, 1.0), "stride": Param(0.15, 0.3)}, crawl),
    Action("idle", {"seconds": Param(2.0, 8.0)}, idle),
    Action("look_around", {"first": Param(choices=("left", "right")), "count": Param(2, 4, integer=True)}, look_around),
    Action("jumping_jacks", {"count": Param(2, 6, integer=True), "tempo": Param(0.8, 1.3),
                             "spread": Param(0.2, 0.35)}, jumping_jacks),
    Action("arm_circles", {"direction": Param(choices=("forward", "backward")), "count": Param(3, 8, integer=True),
                           "size": Param(0.2, 0.5)}, arm_circles),
    Action("sway", {"tempo": Param(0.8, 1.6), "amplitude": Param(0.04, 0.1), "seconds": Param(3.0, 8.0)}, sway),
)}
