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

from .features import POSITION_FEATURES, facing_angle, features_to_joints, joints_to_features
from .types import Motion, Segment

# Faster than this (m/s) between waypoints is more than a person runs for long; the models cannot follow it.
MAX_PATH_SPEED = 6.0
# Segments whose text has one of these words move without facing the way they go.
FREE_HEADING_WORDS = ("backward", "backwards", "sideways", "sidestep", "side step", "strafe")
# How much the path's heading term counts against its position term (1 − cos of the angle, against square metres).
HEADING_WEIGHT = 0.05
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
    frame = parse_time(time, fps, where)
    if not 0 <= frame < num_frames:
        raise ConstraintError(f"{where}: key time {time} is outside the motion, which lasts {num_frames / fps:.6g} s; "
                              f"give a time from 0s to {(num_frames - 1) / fps:.6g}s")
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
    frames = np.array([w[0] for w in waypoints])
    points = np.array([[w[1], w[2]] for w in waypoints], dtype=np.float64)
    if (np.diff(frames) <= 0).any():
        raise ConstraintError(f"{where}: waypoint times must increase; order the waypoints by time, one frame apart at least")
    if frames[-1] >= num_frames:
        raise ConstraintError(f"{where}: a waypoint at {frames[-1] / fps:.6g} s is outside the motion, which lasts "
                              f"{num_frames / fps:.6g} s; give times up to {(num_frames - 1) / fps:.6g}s")
    speeds = np.linalg.norm(np.diff(points, axis=0), axis=1) / (np.diff(frames) / fps)
    fastest = int(np.argmax(speeds))
    if speeds[fastest] > MAX_PATH_SPEED:
        raise ConstraintError(f"{where}: the path asks for {speeds[fastest]:.3g} m/s between {frames[fastest] / fps:g} s and "
                              f"{frames[fastest + 1] / fps:g} s, faster than a person runs (at most {MAX_PATH_SPEED:g} m/s); "
                              "move those waypoints closer or further apart in time")
    return RootPath(frames, points, source=where)


def free_heading_frames(segments: list[Segment], num_frames: int) -> np.ndarray:
    """Per frame: whether its segment moves without facing the way it goes (backward, sideways)."""
    free = np.zeros(num_frames, dtype=bool)
    for segment in segments:
        if any(word in segment.text.lower() for word in FREE_HEADING_WORDS):
            free[segment.start:segment.end] = True
    return free


def path_frame(path: RootPath) -> tuple[np.ndarray, float]:
    """Where the motion starts on the ground (x, z) and the heading it starts with, so the path can be met.

    A path from 0 s starts the motion at its first waypoint, facing the second; otherwise at the origin facing +z.
    """
    if path.frames[0] != 0:
        return np.zeros(2), 0.0
    direction = path.points[1] - path.points[0]
    return path.points[0].copy(), float(math.atan2(direction[0], direction[1])) if np.linalg.norm(direction) > 1e-6 else 0.0


def place(positions: np.ndarray, origin: np.ndarray, heading: float) -> np.ndarray:
    """Positions [T, 22, 3] turned by `heading` about y and moved by (x, z) = `origin` on the ground."""
    cos, sin = math.cos(heading), math.sin(heading)
    x, z = positions[..., 0], positions[..., 2]
    placed = positions.copy()
    placed[..., 0] = x * cos + z * sin + origin[0]
    placed[..., 2] = z * cos - x * sin + origin[1]
    return placed


def _in_model_frame(path: RootPath) -> np.ndarray:
    """The waypoints in the frame the model's motion starts in (origin, facing +z)."""
    origin, heading = path_frame(path)
    shifted = path.points - origin
    cos, sin = math.cos(heading), math.sin(heading)
    return np.stack([shifted[:, 0] * cos - shifted[:, 1] * sin, shifted[:, 0] * sin + shifted[:, 1] * cos], axis=1)


def constraint_loss(constraints: Constraints, segments: list[Segment], num_frames: int):
    """The loss of features [B, T, 263] (HumanML3D units) against the constraints: [B], in square metres."""
    key_frames = torch.tensor([key.frame for key in constraints.keys], dtype=torch.long)
    key_poses = torch.tensor(np.stack([key.local for key in constraints.keys]) if constraints.keys else np.zeros((0, 22, 3)))
    path = constraints.path
    if path is not None:
        points = _in_model_frame(path)
        frames = np.arange(int(path.frames[0]), int(path.frames[-1]) + 1)
        targets = torch.tensor(np.stack([np.interp(frames, path.frames, points[:, i]) for i in range(2)], axis=1))
        # Heading along the path: the direction of travel over ±5 frames, where the root has somewhere to go.
        ahead = np.stack([np.interp(np.minimum(frames + 5, frames[-1]), path.frames, points[:, i]) -
                          np.interp(np.maximum(frames - 5, frames[0]), path.frames, points[:, i]) for i in range(2)], axis=1)
        moving = (np.linalg.norm(ahead, axis=1) > 0.05) & ~free_heading_frames(segments, num_frames)[frames]
        headings = torch.tensor(np.arctan2(ahead[:, 0], ahead[:, 1]))
        waypoint_rows = torch.tensor(path.frames - path.frames[0], dtype=torch.long)
        frame_index, moving_mask = torch.tensor(frames, dtype=torch.long), torch.tensor(moving)

    def loss(features: torch.Tensor) -> torch.Tensor:
        total = features.new_zeros(features.shape[0], dtype=torch.float64)
        if constraints.keys:
            error = local_pose(features[:, key_frames].double()) - key_poses
            total = total + error.pow(2).sum(-1).mean((-1, -2))
        if path is not None:
            joints = features_to_joints(features[:, :int(frame_index[-1]) + 1])
            root = joints[:, frame_index, 0][..., [0, 2]].double()
            offsets = (root - targets).pow(2).sum(-1)
            # Waypoints count as much as the stretch between them: the check is at their times.
            total = total + offsets.mean(-1) + offsets[:, waypoint_rows].mean(-1)
            if bool(moving_mask.any()):
                facing = facing_angle(joints[:, frame_index]).double()
                total = total + HEADING_WEIGHT * (1 - torch.cos(facing - headings))[:, moving_mask].mean(-1)
        return total

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
