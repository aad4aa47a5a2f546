"""Timelines: timed tracks that overlap on different body parts, STMC's timeline files, loops, and their windows.

Lines (besides the sequential `TEXT | DURATION` of scripts, which follow one another from 0 s)::

    @loop                                        the motion loops: its end runs on into its start
    a person walks forward | 0s-12s              a timed track over the whole body
    a person waves with the right hand | 3s-7s | right arm
    walk backwards # 8.64 # 14.76 # legs         STMC's timeline line: text # start # end # part # part ...

Times are seconds (`3`, `3.5s`) or frames (`60f`); parts are `left arm`, `right arm`, `legs`, `head`, `spine` (STMC's
names; `left hand`, `right hand`, `left leg`, `right leg`, `torso` and `neck` are read as STMC reads them), separated by
commas in our lines. A file whose tracks are all STMC lines starts at its first track, as STMC reads it.

Who moves which part (`part_owners`): a track that names parts moves those parts. A track without parts covers the
whole body except what other tracks name at that time. A part nobody names at a time (STMC's files rarely name the
head) follows the base track of that time: the whole-body track if one is running, else the track that moves the legs,
else the one naming most parts (ties: the earlier start, then the earlier line) — SINC's and STMC's rule, made
deterministic. Frames no track covers follow the nearest covered frame. Two tracks naming the same part at the same
time, or two whole-body tracks at once, are refused.

Body parts split the 263 HumanML3D features (`FEATURE_PART`): each joint's position, rotation and velocity go with its
part; the root features, the pelvis velocity and the foot contacts with the legs.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np
import torch

from syncmotion.engine.owned_windows import OwnedWindows

from .features import FEATURE_DIM, POSITION_FEATURES, ROTATION_FEATURES, VELOCITY_FEATURES
from .script import CONSTRAINT_LINES, ScriptError
from .script import _setting as script_setting
from .skeleton import FPS, NUM_JOINTS
from .types import Segment

BODY_PARTS = ("left arm", "right arm", "legs", "head", "spine")
PART_ALIASES = {"torso": "spine", "neck": "head", "left hand": "left arm", "right hand": "right arm",
                "left leg": "legs", "right leg": "legs"}
# The part of each of the 22 joints (STMC's split of the SMPL body).
JOINT_PART = (2, 2, 2, 4, 2, 2, 4, 2, 2, 4, 2, 2, 3, 0, 1, 3, 0, 1, 0, 1, 0, 1)


def _feature_parts() -> np.ndarray:
    parts = np.full(FEATURE_DIM, BODY_PARTS.index("legs"))
    for joint in range(1, NUM_JOINTS):
        parts[POSITION_FEATURES.start + 3 * (joint - 1): POSITION_FEATURES.start + 3 * joint] = JOINT_PART[joint]
        parts[ROTATION_FEATURES.start + 6 * (joint - 1): ROTATION_FEATURES.start + 6 * joint] = JOINT_PART[joint]
    for joint in range(NUM_JOINTS):
        parts[VELOCITY_FEATURES.start + 3 * joint: VELOCITY_FEATURES.start + 3 * (joint + 1)] = JOINT_PART[joint]
    return parts


FEATURE_PART = _feature_parts()  # [263] index into BODY_PARTS
_NUMBER = r"\d+(?:\.\d+)?"
_TIME = re.compile(rf"^(?P<value>{_NUMBER})\s*(?P<unit>s|sec|f|frames?)?$")
_STMC_LINE = re.compile(rf"^[^#|]*[^#|\s][^#|]*(#\s*{_NUMBER}\s*){{2}}(#[^#|]*)*$")


@dataclass(frozen=True)
class Track:
    """One text over frames [start, end) on some body parts (none: the whole body), from line `where`."""

    text: str
    start: int
    end: int
    parts: frozenset[str] = frozenset()
    where: str = ""


@dataclass
class Timeline:
    """Tracks on one body, the frame rate, an optional seed, and whether the motion loops."""

    tracks: list[Track]
    fps: float = FPS
    seed: int | None = None
    loop: bool = False
    source: str = "<timeline>"
    stmc: bool = field(default=False, repr=False)

    @property
    def num_frames(self) -> int:
        """Length in frames: up to the last track's end."""
        return max(track.end for track in self.tracks)

    def segments(self) -> list[Segment]:
        """The tracks as segments, by start (they may overlap)."""
        return [Segment(t.text, t.start, t.end) for t in sorted(self.tracks, key=lambda t: (t.start, t.end))]


def _code(line: str) -> str:
    """A line without its comment; STMC lines keep their '#' separators."""
    stripped = line.strip()
    if _STMC_LINE.match(stripped):
        return stripped
    return stripped.split("#", 1)[0].strip()


def is_timeline(text: str) -> bool:
    """Whether script text uses anything beyond sequential segments: @loop, timed or part tracks, STMC lines."""
    for raw in text.splitlines():
        line = _code(raw)
        if line.split()[:1] == ["@loop"] or _STMC_LINE.match(line):
            return True
        fields = [part.strip() for part in line.split("|")]
        if not line.startswith("@") and len(fields) >= 2 and ("-" in fields[1] or len(fields) > 2):
            return True
    return False


def _time(value: str, fps: float, where: str) -> int:
    match = _TIME.match(value.strip().lower())
    if match is None:
        raise ScriptError(f"{where}: time {value.strip()!r} is not understood; write seconds like '3s' or '3.5' or frames like '60f'")
    number = float(match.group("value"))
    if not math.isfinite(number):
        raise ScriptError(f"{where}: time {value.strip()!r} is too large; give a real time")
    unit = match.group("unit") or "s"
    return int(round(number)) if unit.startswith("f") else int(round(number * fps))


def _parts(names: list[str], where: str) -> frozenset[str]:
    parts = set()
    for name in (n.strip().lower() for n in names):
        part = PART_ALIASES.get(name, name)
        if part not in BODY_PARTS:
            raise ScriptError(f"{where}: unknown body part {name!r}; the parts are {', '.join(BODY_PARTS)}")
        parts.add(part)
    return frozenset(parts)


def _span(text: str, start: int, end: int, where: str, fps: float) -> None:
    if end <= start:
        raise ScriptError(f"{where}: {text!r} ends at {end / fps:g} s, not after its start at {start / fps:g} s; "
                          "write the start first and give it at least one frame")


def _setting(line: str, where: str, settings: dict[str, float | int]) -> None:
    words = line[1:].split()
    if words[:1] == ["loop"]:
        if len(words) > 1:
            raise ScriptError(f"{where}: @loop takes no value; write '@loop' alone on its line")
        settings["loop"] = 1
        return
    if words[:1] and words[0] in CONSTRAINT_LINES:
        raise ScriptError(f"{where}: @{words[0]} works in sequential scripts (lines `TEXT | 6s`), not yet with timed tracks, "
                          "body parts or @loop; remove it, or write the script as a sequence")
    script_setting(line, where, settings)


def _read_lines(text: str, name: str) -> tuple[dict[str, float | int], list[tuple[str, list[str], str, bool]]]:
    """Settings, and (text, fields, where, is_stmc) per track line."""
    settings: dict[str, float | int] = {}
    entries: list[tuple[str, list[str], str, bool]] = []
    blank_after_stmc = ""
    for number, raw in enumerate(text.splitlines(), start=1):
        where = f"{name}:{number}"
        line = _code(raw)
        if not line:
            if entries and entries[-1][3] and not raw.strip():
                blank_after_stmc = blank_after_stmc or where
            continue
        if line.startswith("@"):
            if entries:
                raise ScriptError(f"{where}: settings must come before the first track; move {line!r} to the top")
            _setting(line, where, settings)
            continue
        stmc = bool(_STMC_LINE.match(line))
        if stmc and blank_after_stmc:
            raise ScriptError(f"{where}: this file holds more than one STMC timeline (a blank line at {blank_after_stmc} "
                              "ends the first); give one timeline per file")
        fields = [part.strip() for part in line.split("#" if stmc else "|")]
        if len(fields) < 2:
            raise ScriptError(f"{where}: expected 'TEXT | DURATION', 'TEXT | START-END | PARTS' or STMC's "
                              "'TEXT # START # END # PART'; this line has neither '|' nor '#'")
        if not fields[0]:
            raise ScriptError(f"{where}: the track has no text; describe the motion, e.g. 'a person waves'")
        entries.append((fields[0], fields[1:], where, stmc))
    if not entries:
        raise ScriptError(f"{name}: no tracks; add lines like 'a person walks forward | 0s-12s'")
    return settings, entries


def _tracks(entries: list[tuple[str, list[str], str, bool]], fps: float) -> list[Track]:
    tracks, cursor = [], 0
    for text, fields, where, stmc in entries:
        if stmc:
            start, end, parts = _time(fields[0], fps, where), _time(fields[1], fps, where), _parts(fields[2:], where)
        else:
            if len(fields) > 2:
                raise ScriptError(f"{where}: too many '|'; write 'TEXT | START-END | PART, PART'")
            parts = _parts(fields[1].split(","), where) if len(fields) == 2 and fields[1] else frozenset()
            timing = fields[0]
            if "-" in timing:
                bounds = timing.split("-")
                if len(bounds) != 2:
                    raise ScriptError(f"{where}: times {timing!r} are not understood; write 'START-END', e.g. '3s-7s'")
                start, end = _time(bounds[0], fps, where), _time(bounds[1], fps, where)
            else:
                start = cursor
                end = start + _time(timing, fps, where)
                cursor = end
        _span(text, start, end, where, fps)
        tracks.append(Track(text, start, end, parts, where))
    return tracks


def _check_claims(tracks: list[Track], fps: float) -> None:
    """Refuse two tracks moving the same part at once (two whole-body tracks included)."""
    for j, later in enumerate(tracks):
        for earlier in tracks[:j]:
            low, high = max(earlier.start, later.start), min(earlier.end, later.end)
            if low >= high:
                continue
            when = f"from {low / fps:g} s to {high / fps:g} s"
            if not earlier.parts and not later.parts:
                raise ScriptError(f"{later.where}: {later.text!r} and {earlier.text!r} ({earlier.where}) both cover the "
                                  f"whole body {when}; name the body parts of one of them, e.g. '| right arm'")
            shared = sorted(earlier.parts & later.parts)
            if shared:
                raise ScriptError(f"{later.where}: {later.text!r} claims the {shared[0]} {when}, which {earlier.text!r} "
                                  f"({earlier.where}) already moves; give one of them other parts or other times")


def parse_timeline(text: str, name: str = "<timeline>") -> Timeline:
    """A Timeline from the text of a timeline or script file named `name`; a ScriptError names the line and the fix."""
    settings, entries = _read_lines(text, name)
    fps = float(settings.get("fps", FPS))
    tracks = _tracks(entries, fps)
    stmc = all(entry[3] for entry in entries)
    if stmc:
        # STMC reads each timeline as starting at its first track.
        first = min(track.start for track in tracks)
        tracks = [Track(t.text, t.start - first, t.end - first, t.parts, t.where) for t in tracks]
    _check_claims(tracks, fps)
    seed = int(settings["seed"]) if "seed" in settings else None
    return Timeline(tracks, fps, seed, bool(settings.get("loop", False)), name, stmc)


def _base_track(active: list[int], tracks: list[Track]) -> int:
    """The track that takes the parts nobody names: whole-body, else the legs' track, else the one naming most parts."""
    whole = [i for i in active if not tracks[i].parts]
    if whole:
        return whole[0]
    legs = [i for i in active if "legs" in tracks[i].parts]
    if legs:
        return legs[0]
    return min(active, key=lambda i: (-len(tracks[i].parts), tracks[i].start, i))


def part_owners(timeline: Timeline) -> np.ndarray:
    """The track moving each body part on each frame [5, T] (indices into timeline.tracks)."""
    tracks, length = timeline.tracks, timeline.num_frames
    owners = np.full((len(BODY_PARTS), length), -1)
    cuts = sorted({0, length, *(t.start for t in tracks), *(t.end for t in tracks)})
    for low, high in zip(cuts, cuts[1:]):
        active = [i for i, t in enumerate(tracks) if t.start <= low and high <= t.end]
        if not active:
            continue
        base = _base_track(active, tracks)
        for part_index, part in enumerate(BODY_PARTS):
            named = [i for i in active if part in tracks[i].parts]
            owners[part_index, low:high] = named[0] if named else base
    covered = np.flatnonzero(owners[0] >= 0)
    # Frames no track covers follow the nearest covered frame (the earlier one on a tie).
    nearest = covered[np.clip(np.searchsorted(covered, np.arange(length)), 0, len(covered) - 1)]
    earlier = covered[np.clip(np.searchsorted(covered, np.arange(length)) - 1, 0, len(covered) - 1)]
    use_earlier = np.abs(earlier - np.arange(length)) <= np.abs(nearest - np.arange(length))
    return owners[:, np.where(use_earlier, earlier, nearest)]


def feature_ownership(timeline: Timeline, blend: int) -> torch.Tensor:
    """Each track's share of every HumanML3D feature on every frame [tracks, 263, 1, T], handed over across `blend` frames."""
    from scipy.ndimage import uniform_filter1d

    owners = part_owners(timeline)
    one_hot = (owners[None] == np.arange(len(timeline.tracks))[:, None, None]).astype(np.float64)  # [G, 5, T]
    if blend > 1:
        one_hot = uniform_filter1d(one_hot, size=blend, axis=-1, mode="wrap" if timeline.loop else "nearest")
    one_hot[one_hot < 1e-6] = 0
    one_hot /= one_hot.sum(0, keepdims=True)
    return torch.from_numpy(one_hot[:, FEATURE_PART, None, :]).float()


@dataclass
class TrackPlan:
    """The engine windows for a timeline: layout, one text per window, and the frames where tracks hand over."""

    layout: OwnedWindows
    texts: list[str]
    seams: list[int]


def _runs(covered: np.ndarray, wrap: bool) -> list[tuple[int, int]]:
    """(start, length) of each stretch of covered frames; with `wrap` a stretch may run across the end."""
    length = len(covered)
    if covered.all():
        return [(0, length)]
    offset = int(np.flatnonzero(~covered)[0]) if wrap else 0
    rolled = np.roll(covered, -offset)
    edges = np.diff(np.concatenate([[0], rolled.astype(int), [0]]))
    return [((int(a) + offset) % length, int(b - a)) for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1))]


def _tile(start: int, span: int, length: int, window: int, overlap: int, wrap: bool) -> list[int]:
    """Window starts covering frames [start, start + span) with about `overlap` frames shared."""
    if wrap and span == length:
        count = max(2, math.ceil(length / (window - overlap)))
        return [round(i * length / count) for i in range(count)]
    if span <= window:
        starts = [round(start + (span - window) / 2)]
    else:
        count = math.ceil((span - window) / (window - overlap)) + 1
        starts = [start + round(i * (span - window) / (count - 1)) for i in range(count)]
    return [s % length for s in starts] if wrap else [min(max(s, 0), length - window) for s in starts]


def plan_tracks(timeline: Timeline, window: int, overlap: int) -> TrackPlan:
    """Windows of the model's length over each track where it moves anything, and what each window reads."""
    length = timeline.num_frames
    # A loop needs two windows at least, so that one can be pulled toward the other across the wrap.
    size = min(window, max(2, (2 * length) // 3) if timeline.loop else length)
    overlap = min(overlap, size - 1)
    ownership = feature_ownership(timeline, max(overlap, 1))
    moving = ownership.flatten(1, -2).amax(1).numpy() > 0  # [G, T]
    planned = sorted((start, group) for group in range(len(timeline.tracks))
                     for run_start, span in _runs(moving[group], timeline.loop)
                     for start in _tile(run_start, span, length, size, overlap, timeline.loop))
    layout = OwnedWindows(length, size, [s for s, _ in planned], [g for _, g in planned], ownership, wrap=timeline.loop)
    seams = sorted({f for t in timeline.tracks for f in (t.start, t.end) if 0 < f < length})
    return TrackPlan(layout, [timeline.tracks[g].text for _, g in planned], seams)
