"""Text scripts for long motions, and the engine windows a script becomes.

Format, one segment per line::

    # comments and blank lines are ignored
    @fps 20            optional settings: @fps N, @seed N
    @seed 7
    a person walks forward | 8s
    a person jumps in place | 120f

A duration is seconds (`8s`, `8.5s` or a bare number) or frames (`120f`). `@key` and `@path` lines (what the
motion must meet: motion/constraints.py) may stand anywhere; the script keeps them for the pipeline to read.

Windows (`plan_windows`): every window has the model's length. Aligned to segments (the default), each
segment gets its own windows with its own text: they tile the segment widened by half the overlap on each
side (a segment shorter than a window gets one window centred on it), so neighbouring segments' windows share
about `overlap` frames around each boundary, and a short segment is never swallowed by a neighbour's text.
A short first or last segment's window starts with its segment (the model learned actions that begin with
their clip, and rest poses that end it); the last one may run on past the script's end: the canvas gets that
margin and the motion is cut from it. Pushed back inside, it would share most of its frames with its
neighbour and be pulled into the neighbour's action (the last segment of a script lost 0.10 action accuracy
that way; ending the first segment's window with its segment instead cost it 0.08; tools/bench_segment_context.py).
Evenly spaced (`align="even"`), equal windows with `overlap` shared frames cover the canvas (the last one
aligned to the end) and each takes the text of the segment covering most of its frames (ties go to the
earlier segment). A script no longer than one window is sampled as a single window of the script's length
when it has one text; with several texts, aligned to segments, each segment still gets its own window (as wide
as the script, narrower where very short segments would otherwise share one), so a 2 s walk then a 2 s jump
keeps both texts.
`WindowPlan.seams` are the first frames of windows 1, 2, ... in script frames: where the handover from one
window to the next begins (pasted in order, a window takes over there; cross-faded, the blend runs over the
overlap that starts there).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import math

from .skeleton import FPS
from .types import Segment

if TYPE_CHECKING:  # the engine (and torch) are imported by plan_windows: reading a script needs neither
    from syncmotion.engine.windows import CropLayout

    from .timeline import Timeline

DEFAULT_FPS = FPS
# The largest seed torch's generators take (an unsigned 64-bit number).
MAX_SEED = 2**64 - 1
# Lines naming what the motion must meet rather than what it does (see motion/constraints.py).
CONSTRAINT_LINES = ("key", "path")
_DURATION = re.compile(r"^(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>s|sec|f|frames?)?$")


class ScriptError(ValueError):
    """A script that cannot be read; the message names the file, the line and the fix."""


@dataclass
class Script:
    """A parsed script: segments with frame ranges, the frame rate and an optional seed."""

    segments: list[Segment]
    fps: float = DEFAULT_FPS
    seed: int | None = None
    source: str = "<script>"
    timeline: Timeline | None = None  # timed tracks, body parts or @loop (motion/timeline.py); segments then overlap
    # Constraint lines (@key, @path) as (name, argument, where), read by motion/constraints.py.
    constraints: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def num_frames(self) -> int:
        """Total length in frames."""
        return max((segment.end for segment in self.segments), default=0)


@dataclass
class WindowPlan:
    """The engine windows for a script: layout, one text per window, and the first frame of each later window.

    The layout's canvas may run on past the script's end; the motion is its first `script.num_frames` frames.
    """

    layout: CropLayout
    texts: list[str]
    seams: list[int]


def _frames(duration: str, fps: float, where: str) -> int:
    match = _DURATION.match(duration.strip().lower())
    if match is None:
        raise ScriptError(f"{where}: duration {duration.strip()!r} is not understood; "
                          "write seconds like '4s' or '4.5' or frames like '80f'")
    value = float(match.group("value"))
    if not math.isfinite(value):
        raise ScriptError(f"{where}: duration {duration.strip()!r} is too large to be a number of seconds; give a real duration")
    unit = match.group("unit") or "s"
    frames = int(round(value)) if unit.startswith("f") else int(round(value * fps))
    if frames <= 0:
        raise ScriptError(f"{where}: duration {duration.strip()!r} is shorter than one frame; give a positive duration")
    return frames


def _setting(line: str, where: str, settings: dict[str, float | int]) -> None:
    parts = line[1:].split()
    if len(parts) != 2 or parts[0] not in ("fps", "seed"):
        raise ScriptError(f"{where}: unknown setting {line!r}; the settings are '@fps 20' and '@seed 7'")
    name, value = parts
    try:
        number = float(value) if name == "fps" else int(value)
    except ValueError:
        raise ScriptError(f"{where}: @{name} needs a number, got {value!r}") from None
    if name == "fps" and not 0 < number < math.inf:
        raise ScriptError(f"{where}: @fps must be a positive number, got {value}")
    if name == "seed" and not 0 <= number <= MAX_SEED:
        raise ScriptError(f"{where}: @seed must be a whole number from 0 to {MAX_SEED}, got {value}")
    settings[name] = number


def parse_script(source: str | Path) -> Script:
    """A Script from a file path or from the script text itself."""
    # One line without a '|' cannot be a script with a segment, so it is taken as a file name.
    if isinstance(source, Path) or (source.strip() and "\n" not in source and "|" not in source):
        path = Path(source)
        if not path.is_file():
            raise ScriptError(f"script {path} does not exist; see sequences/demo.txt for an example")
        try:
            # utf-8-sig: editors on Windows start files with a byte order mark, which is not part of line 1.
            text, name = path.read_text(encoding="utf-8-sig"), str(path)
        except UnicodeDecodeError:
            raise ScriptError(f"script {path} is not UTF-8 text; save it as plain UTF-8 text") from None
    else:
        text, name = str(source).removeprefix("\ufeff"), "<script>"
    from .timeline import is_timeline, parse_timeline

    if is_timeline(text):
        timeline = parse_timeline(text, name)
        return Script(timeline.segments(), timeline.fps, timeline.seed, name, timeline)
    settings: dict[str, float | int] = {}
    entries: list[tuple[str, str, str]] = []
    constraints: list[tuple[str, str, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        where = f"{name}:{number}"
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("@"):
            name_and_argument = line[1:].split(maxsplit=1)
            if name_and_argument and name_and_argument[0] in CONSTRAINT_LINES:
                # Constraints are about times, not segments: they may stand anywhere.
                constraints.append((name_and_argument[0], name_and_argument[1] if len(name_and_argument) > 1 else "", where))
                continue
            if entries:
                raise ScriptError(f"{where}: settings must come before the first segment; move {line!r} to the top")
            _setting(line, where, settings)
            continue
        if "|" not in line:
            raise ScriptError(f"{where}: expected 'TEXT | DURATION', e.g. 'a person walks forward | 6s'; this line has no '|'")
        prompt, duration = (part.strip() for part in line.rsplit("|", 1))
        if not prompt:
            raise ScriptError(f"{where}: the segment has no text before '|'; describe the motion, e.g. 'a person waves'")
        entries.append((prompt, duration, where))
    if not entries:
        raise ScriptError(f"{name}: no segments; add lines like 'a person walks forward | 6s'")
    fps = float(settings.get("fps", DEFAULT_FPS))
    segments, start = [], 0
    for prompt, duration, where in entries:
        end = start + _frames(duration, fps, where)
        segments.append(Segment(prompt, start, end))
        start = end
    seed = int(settings["seed"]) if "seed" in settings else None
    return Script(segments=segments, fps=fps, seed=seed, source=name, constraints=constraints)


def majority_text(segments: Sequence[Segment], start: int, end: int) -> str:
    """The text of the segment covering most of frames [start, end) (the earliest on a tie); "" if none covers any."""
    covered = [(min(end, s.end) - max(start, s.start), -i, s.text) for i, s in enumerate(segments)]
    best = max(covered, default=(0, 0, ""))
    return best[2] if best[0] > 0 else ""


ALIGNMENTS = ("segments", "even")


def _segment_windows(script: Script, window: int, overlap: int) -> list[tuple[int, str]]:
    """(start, text) of windows tiling each segment widened by half the overlap toward its neighbours.

    The last window may end past the script: see the module's docstring.
    """
    planned: list[tuple[int, str]] = []
    first, last = script.segments[0], script.segments[-1]
    before, after = overlap // 2, overlap - overlap // 2
    for segment in script.segments:
        # Widened only toward a neighbour: the script's ends have no boundary to share.
        low = segment.start - (before if segment is not first else 0)
        high = segment.end + (after if segment is not last else 0)
        span = high - low
        if span > window:
            count = math.ceil((span - window) / (window - overlap)) + 1
            starts = [low + round(i * (span - window) / (count - 1)) for i in range(count)]
        elif segment is first or segment is last:
            starts = [low]
        else:
            starts = [round((low + high - window) / 2)]
        for start in starts:
            if planned and start <= planned[-1][0]:
                # Segments so short that a window would start no later than the one before share it: it follows
                # the majority.
                start = planned[-1][0]
                planned[-1] = (start, majority_text(script.segments, start, start + window))
            else:
                planned.append((start, segment.text))
    return planned


def _widest_window_keeping_texts(script: Script, size: int, overlap: int) -> int:
    """The widest window up to `size` whose segment-aligned windows keep every segment's text (else `size`)."""
    texts = {segment.text for segment in script.segments}
    for candidate in range(size, overlap, -1):
        if {text for _, text in _segment_windows(script, candidate, overlap)} == texts:
            return candidate
    return size


def plan_windows(script: Script, window: int, overlap: int, align: str = "segments", taper: bool = True) -> WindowPlan:
    """Windows of at most `window` frames over the script with their texts, aligned to segments or evenly spaced.

    `taper`: SyncSDE's pull toward the previous window fades out across each overlap (see CropLayout).
    """
    from syncmotion.engine.windows import temporal_windows, temporal_windows_at

    if window <= 0:
        raise ValueError(f"window must be positive, got {window}")
    if not 0 <= overlap < window:
        raise ValueError(f"overlap ({overlap} frames) must be at least 0 and smaller than the window ({window} frames); lower --overlap")
    if align not in ALIGNMENTS:
        raise ValueError(f"unknown window alignment {align!r}; choose one of {', '.join(ALIGNMENTS)}")
    length = script.num_frames
    size = min(window, length)
    several_texts = len({segment.text for segment in script.segments}) > 1
    if align == "segments" and size == length and several_texts:
        overlap = min(overlap, size - 1)
        size = _widest_window_keeping_texts(script, size, overlap)
    if align == "segments" and (size < length or several_texts):
        planned = _segment_windows(script, size, overlap)
        layout = temporal_windows_at(max(length, planned[-1][0] + size), size, [start for start, _ in planned], taper)
        texts = [text for _, text in planned]
    else:
        layout = temporal_windows(length, size, overlap if size < length else 0, taper)
        texts = [majority_text(script.segments, start, start + size) for start in layout.starts]
    # Pasted in order, each later window takes over the canvas from its first frame on.
    return WindowPlan(layout=layout, texts=texts, seams=list(layout.starts[1:]))
