"""Constraints a motion must meet: key poses at times, a root path of waypoints, spans to redo; parsed and as losses.

Times are seconds (`5s`, `5.5` or a bare number) or frames (`100f`). In a script::

    @key 5s poses/crouch.json:12     the pose of frame 12 of that motion file, held at 5 s (frame 0 if left out)
    @path 0s 0 0, 10s 6 0, 20s 6 6   waypoints TIME X Z (metres, y up), in order of time
    @path route.csv                  the same as a CSV file of time,x,z rows (a header line is allowed)

Relative file names are read from the script's folder. Losses act on joint positions in metres computed from the
263-dim features (`features_to_joints`, differentiable in torch): a key compares the pose in the body's own facing
frame (root height and every joint relative to the root), so the motion may be anywhere and face anywhere when it
passes through it; a path compares the root's ground position, and pulls the body's facing along the direction of
travel except in segments that say the person moves backward or sideways.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .features import POSITION_FEATURES, features_to_joints, joints_to_features
from .types import Motion, Segment

# Faster than this (m/s) between waypoints is more than a person runs for long; the models cannot follow it.
MAX_PATH_SPEED = 6.0
# Segments whose text has one of these words face away from where they go, or keep their heading while they go.
BACKWARD_WORDS = ("backward",)
SIDEWAYS_WORDS = ("sideways", "sidestep", "side step", "strafe", "to the side")
# Below this speed (m/s) along the path the body keeps its heading: a direction of travel means nothing there.
STANDING_SPEED = 0.1
_TIME = re.compile(r"^(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>s|sec|f|frames?)?$")


class ConstraintError(ValueError):
    """A constraint that cannot be used; the message names where it came from and the fix."""


def parse_time(text: str, fps: float, where: str) -> int:
    """The frame a time names (`5s`, `5.5`, `100f`), or a ConstraintError saying how to write one."""
    match = _TIME.match(text.strip().lower())
    if match is None or not math.isfinite(float(match.group("value"))):
        raise ConstraintError(f"{where}: time {text.strip()!r} is not understood; write seconds like '5s' or '5.5' or frames like '100f'")
    value = float(match.group("value"))
    return int(round(value)) if (match.group("unit") or "s").startswith("f") else int(round(value * fps))


def parse_span(text: str, fps: float, num_frames: int, where: str = "--span") -> tuple[int, int]:
    """Frames [start, end) of a span `10s-14s` (or `200f-280f`) inside a motion of `num_frames` frames."""
    parts = text.split("-")
    if len(parts) != 2:
        raise ConstraintError(f"{where} {text!r} is not a span; write START-END, e.g. 10s-14s or 200f-280f")
    start, end = (parse_time(part, fps, where) for part in parts)
    seconds = num_frames / fps
    if not start < end:
        raise ConstraintError(f"{where} {text!r} is empty or reversed; the end must come after the start, e.g. 10s-14s")
    if end > num_frames:
        raise ConstraintError(f"{where} {text!r} ends after the motion, which is {seconds:.6g} s ({num_frames} frames) long; "
                              f"end it at {seconds:.6g}s at the latest")
    return start, end


@dataclass(frozen=True)
class KeyPose:
    """A pose to pass through at `frame`: root height and joints relative to the root in the facing frame [22, 3]."""

    frame: int
    local: np.ndarray
    source: str = ""


@dataclass(frozen=True)
class RootPath:
    """Waypoints of the root on the ground: frames [K] increasing, positions [K, 2] as (x, z) in metres."""

    frames: np.ndarray
    points: np.ndarray
    source: str = ""


@dataclass
class Constraints:
    """Everything a motion must meet besides its texts."""

    keys: list[KeyPose] = field(default_factory=list)
    path: RootPath | None = None

    def __bool__(self) -> bool:
        return bool(self.keys) or self.path is not None


def local_pose(features: torch.Tensor) -> torch.Tensor:
    """Joints [..., 22, 3] relative to the root on the ground, in the facing frame, from features [..., 263]."""
    height = features[..., 3:4]
    root = torch.cat([torch.zeros_like(height), height, torch.zeros_like(height)], dim=-1)[..., None, :]
    joints = features[..., POSITION_FEATURES].reshape(*features.shape[:-1], -1, 3)
    return torch.cat([root, joints], dim=-2)


def _pose_from_file(path: Path, frame: int | None, where: str) -> np.ndarray:
    from .io import load_motion

    try:
        loaded = load_motion(path)
    except (FileNotFoundError, ValueError) as error:
        raise ConstraintError(f"{where}: {error}") from None
    motion = loaded[0] if isinstance(loaded, list) else loaded
    frame = 0 if frame is None else frame
    if not 0 <= frame < motion.num_frames:
        raise ConstraintError(f"{where}: {path} has {motion.num_frames} frames; the pose frame must be from 0 to {motion.num_frames - 1}")
    positions = np.asarray(motion.positions, dtype=np.float32)
    # Features need a next frame; the last frame's pose is the same with itself repeated.
    pair = positions[[frame, min(frame + 1, motion.num_frames - 1)]]
    return local_pose(torch.from_numpy(joints_to_features(pair))).numpy()[0]


def parse_key(argument: str, fps: float, num_frames: int, base: Path, where: str) -> KeyPose:
    """A key from `TIME FILE[:FRAME]`, checked against a motion of `num_frames` frames."""
    parts = argument.split(maxsplit=1)
    if len(parts) != 2:
        raise ConstraintError(f"{where}: a key is 'TIME FILE[:FRAME]', e.g. '@key 5s poses/crouch.json:12'; got {argument!r}")
    time, reference = parts
    frame = _at_most_last(parse_time(time, fps, where), num_frames)
    if not 0 <= frame < num_frames:
        raise ConstraintError(f"{where}: key time {time} is outside the motion, which lasts {num_frames / fps:.6g} s; "
                              f"give a time from 0s to {num_frames / fps:.6g}s")
    name, _, pose_frame = reference.rpartition(":")
    if not name or not pose_frame.isdigit():
        name, pose_frame = reference, ""
    path = Path(name) if Path(name).is_absolute() else base / name
    return KeyPose(frame, _pose_from_file(path, int(pose_frame) if pose_frame else None, where), source=f"{where}: {argument}")


def _waypoints_from_csv(path: Path, fps: float, where: str) -> list[tuple[int, float, float]]:
    if not path.is_file():
        raise ConstraintError(f"{where}: no path file at {path}; give a CSV of time,x,z rows")
    rows = []
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            for number, row in enumerate(csv.reader(handle), start=1):
                cells = [cell.strip() for cell in row]
                if not any(cells):
                    continue
                if len(cells) != 3:
                    raise ConstraintError(f"{path}:{number}: expected 3 columns time,x,z, got {len(cells)}")
                try:
                    rows.append(_waypoint(cells, fps, f"{path}:{number}"))
                except ConstraintError:
                    if rows or number > 1:
                        raise
                    # The first line may be a header.
    except UnicodeDecodeError:
        raise ConstraintError(f"{where}: {path} is not UTF-8 text; save the path as a plain CSV file") from None
    return rows


def _at_most_last(frame: int, num_frames: int) -> int:
    """The frame, with the motion's end time (one past its last frame) read as its last frame."""
    return num_frames - 1 if frame == num_frames else frame


def _waypoint(cells: list[str], fps: float, where: str) -> tuple[int, float, float]:
    frame = parse_time(cells[0], fps, where)
    try:
        x, z = float(cells[1]), float(cells[2])
    except ValueError:
        raise ConstraintError(f"{where}: waypoint {' '.join(cells)!r} needs numbers for x and z (metres)") from None
    if not (math.isfinite(x) and math.isfinite(z)):
        raise ConstraintError(f"{where}: waypoint {' '.join(cells)!r} needs finite x and z")
    return frame, x, z


def parse_path(arguments: list[tuple[str, str]], fps: float, num_frames: int, base: Path) -> RootPath:
    """A root path from `@path` arguments (waypoints `TIME X Z, ...` or a CSV file name), checked against the motion."""
    waypoints: list[tuple[int, float, float]] = []
    for argument, where in arguments:
        if argument.lower().endswith(".csv"):
            path = Path(argument) if Path(argument).is_absolute() else base / argument
            waypoints += _waypoints_from_csv(path, fps, where)
            continue
        for item in argument.split(","):
            cells = item.split()
            if len(cells) != 3:
                raise ConstraintError(f"{where}: a waypoint is 'TIME X Z', e.g. '@path 0s 0 0, 10s 6 0'; got {item.strip()!r}")
            waypoints.append(_waypoint(cells, fps, where))
    where = arguments[0][1]
    if len(waypoints) < 2:
        raise ConstraintError(f"{where}: a path needs at least two waypoints, e.g. '@path 0s 0 0, 10s 6 0'")
    frames = np.array([_at_most_last(w[0], num_frames) for w in waypoints])
    points = np.array([[w[1], w[2]] for w in waypoints], dtype=np.float64)
    if (np.diff(frames) <= 0).any():
        raise ConstraintError(f"{where}: waypoint times must increase; order the waypoints by time, one frame apart at least")
    if frames[-1] >= num_frames:
        raise ConstraintError(f"{where}: a waypoint at {frames[-1] / fps:.6g} s is outside the motion, which lasts "
                              f"{num_frames / fps:.6g} s; give times up to {num_frames / fps:.6g}s")
    speeds = np.linalg.norm(np.diff(points, axis=0), axis=1) / (np.diff(frames) / fps)
    fastest = int(np.argmax(speeds))
    if speeds[fastest] > MAX_PATH_SPEED:
        raise ConstraintError(f"{where}: the path asks for {speeds[fastest]:.3g} m/s between {frames[fastest] / fps:g} s and "
                              f"{frames[fastest + 1] / fps:g} s, faster than a person runs (at most {MAX_PATH_SPEED:g} m/s); "
                              "move those waypoints closer or further apart in time")
    return RootPath(frames, points, source=where)


def free_heading_frames(segments: list[Segment], num_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: whether its segment moves backward (facing away from where it goes), and whether sideways."""
    backward, sideways = np.zeros(num_frames, dtype=bool), np.zeros(num_frames, dtype=bool)
    for segment in segments:
        text = segment.text.lower()
        if any(word in text for word in BACKWARD_WORDS):
            backward[segment.start:segment.end] = True
        elif any(word in text for word in SIDEWAYS_WORDS):
            sideways[segment.start:segment.end] = True
    return backward, sideways


def place(positions: np.ndarray, origin: np.ndarray, heading: float) -> np.ndarray:
    """Positions [T, 22, 3] turned by `heading` about y and moved by (x, z) = `origin` on the ground."""
    cos, sin = math.cos(heading), math.sin(heading)
    x, z = positions[..., 0], positions[..., 2]
    placed = positions.copy()
    placed[..., 0] = x * cos + z * sin + origin[0]
    placed[..., 2] = z * cos - x * sin + origin[1]
    return placed


@dataclass(frozen=True)
class PathPlan:
    """A path as the model's frame sees it (its motion starts at the origin facing +z) and where that frame sits."""

    frames: np.ndarray  # [n] the frames the path covers, first waypoint to last
    root: np.ndarray  # [n, 2] root (x, z) at those frames in the model's frame
    heading: np.ndarray  # [n] facing (radians, 0 = +z) at those frames in the model's frame
    origin: np.ndarray  # (x, z) of the model's origin in the world
    turn: float  # the model's +z turned to the world (radians): place(positions, origin, turn) puts a motion there

    def features(self) -> np.ndarray:
        """HumanML3D root features [n - 1, 3] (half yaw change, step in the next frame's facing frame) along the path."""
        yaw = -self.heading
        turn = np.remainder(np.diff(yaw) + np.pi, 2 * np.pi) - np.pi
        step = np.diff(self.root, axis=0)
        cos, sin = np.cos(yaw[1:]), np.sin(yaw[1:])
        # Turned by the next frame's yaw as joints_to_features does (x' = x cos + z sin, z' = z cos - x sin).
        return np.stack([turn / 2, step[:, 0] * cos + step[:, 1] * sin, step[:, 1] * cos - step[:, 0] * sin], axis=1)


def plan_path(path: RootPath, segments: list[Segment], fps: float, num_frames: int) -> PathPlan:
    """The root's course along `path`: a cubic spline through the waypoints, heading along it (see the module docstring).

    A path from 0 s starts the motion at its first waypoint, facing along it; otherwise the motion starts at the origin
    facing +z and reaches the first waypoint by guidance alone.
    """
    from scipy.interpolate import CubicSpline

    frames = np.arange(int(path.frames[0]), int(path.frames[-1]) + 1)
    spline = CubicSpline(path.frames, path.points, bc_type="natural")
    world, velocity = spline(frames), spline(frames, 1) * fps
    backward, sideways = free_heading_frames(segments, num_frames)
    heading = np.arctan2(velocity[:, 0], velocity[:, 1]) + np.where(backward[frames], np.pi, 0.0)
    # Where the root barely moves, or goes sideways, the body keeps the heading it had.
    hold = (np.linalg.norm(velocity, axis=1) < STANDING_SPEED) | sideways[frames]
    for index in np.nonzero(hold)[0]:
        if index > 0:
            heading[index] = heading[index - 1]
    heading = np.unwrap(heading)
    starts_motion = bool(frames[0] == 0)
    origin = world[0].copy() if starts_motion else np.zeros(2)
    turn = float(heading[0]) if starts_motion else 0.0
    shifted = world - origin
    cos, sin = math.cos(turn), math.sin(turn)
    root = np.stack([shifted[:, 0] * cos - shifted[:, 1] * sin, shifted[:, 0] * sin + shifted[:, 1] * cos], axis=1)
    return PathPlan(frames, root, heading - turn, origin, turn)


def key_loss(keys: list[KeyPose]):
    """The loss of features [B, T, 263] against key poses: [B], mean squared joint distance in square metres."""
    frames = torch.tensor([key.frame for key in keys], dtype=torch.long)
    poses = torch.tensor(np.stack([key.local for key in keys]), dtype=torch.float64)

    def loss(features: torch.Tensor) -> torch.Tensor:
        error = local_pose(features[:, frames].double()) - poses
        return error.pow(2).sum(-1).mean((-1, -2))

    return loss


def path_loss(plan: PathPlan, waypoint_frames: np.ndarray):
    """The loss of features [B, T, 263] against a path: [B], squared root distance (m²) along it plus at its waypoints."""
    frames = torch.tensor(plan.frames, dtype=torch.long)
    targets = torch.tensor(plan.root)
    waypoints = torch.tensor(waypoint_frames - plan.frames[0], dtype=torch.long)

    def loss(features: torch.Tensor) -> torch.Tensor:
        joints = features_to_joints(features[:, :int(frames[-1]) + 1])
        offsets = (joints[:, frames, 0][..., [0, 2]].double() - targets).pow(2).sum(-1)
        # Waypoints count as much as the stretch between them: they are where the path is checked.
        return offsets.mean(-1) + offsets[:, waypoints].mean(-1)

    return loss


def pose_error(positions: np.ndarray, key: KeyPose) -> float:
    """Mean joint distance (m) between a frame's pose [22, 3] and a key pose, both on their root and turned to fit best."""
    mine = positions - np.array([positions[0, 0], 0.0, positions[0, 2]])
    target = key.local
    # The yaw that best maps `mine` onto the key on the ground plane (2D Procrustes), so facing does not count.
    cross = (mine[:, 0] * target[:, 2] - mine[:, 2] * target[:, 0]).sum()
    dot = (mine[:, 0] * target[:, 0] + mine[:, 2] * target[:, 2]).sum()
    turned = place(mine[None], np.zeros(2), math.atan2(-cross, dot))[0]
    return float(np.linalg.norm(turned - target, axis=-1).mean())


def path_errors(motion: Motion, path: RootPath) -> np.ndarray:
    """Ground distance (m) of the root from each waypoint at its time."""
    positions = np.asarray(motion.positions)
    return np.linalg.norm(positions[path.frames, 0][:, [0, 2]] - path.points, axis=1)


def read_constraints(lines: list[tuple[str, str, str]], fps: float, num_frames: int, base: Path) -> Constraints:
    """Constraints from (name, argument, where) lines (`key`, `path`), file names relative to `base`."""
    keys = [parse_key(argument, fps, num_frames, base, where) for name, argument, where in lines if name == "key"]
    paths = [(argument, where) for name, argument, where in lines if name == "path"]
    return Constraints(keys=keys, path=parse_path(paths, fps, num_frames, base) if paths else None)
