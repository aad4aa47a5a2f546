"""Motion -> mp4 or gif (both through imageio-ffmpeg's bundled ffmpeg), or a PNG filmstrip of keyframes."""

from __future__ import annotations

import math
from pathlib import Path

import imageio_ffmpeg
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from tqdm import tqdm

from syncmotion.files import write_atomically
from syncmotion.motion.types import Motion

from .scene import Scene, segment_colour

# ffmpeg settings per output. A GIF gets a palette per frame (palettegen stats_mode=single, paletteuse new=1):
# one palette for the whole video would make ffmpeg hold every frame until the last one arrives.
_GIF_FILTER = "split[a][b];[a]palettegen=stats_mode=single:reserve_transparent=0[p];[b][p]paletteuse=new=1:dither=none"
_ENCODERS: dict[str, dict] = {
    ".mp4": {"codec": "libx264", "pix_fmt_out": "yuv420p", "quality": 7, "output_params": ["-f", "mp4"]},
    ".gif": {"codec": "gif", "pix_fmt_out": "pal8", "quality": None, "output_params": ["-filter_complex", _GIF_FILTER, "-f", "gif"]},
}
VIDEO_SUFFIXES = tuple(_ENCODERS)
MIN_SIZE = 64


def _frames(motion: Motion, size: int, progress: bool):
    """RGB frames [size, size, 3] of the whole motion, drawn one after the other on one figure."""
    # A bare Agg figure, not pyplot: no global backend switch for the caller, and nothing to close.
    figure = Figure(figsize=(size / 100, size / 100), dpi=100)
    canvas = FigureCanvasAgg(figure)
    scene = Scene(figure.add_axes((0, 0, 1, 1)), motion)
    for frame in tqdm(range(motion.num_frames), desc="render", unit="frame", disable=not progress):
        scene.show(frame)
        canvas.draw()
        yield np.asarray(canvas.buffer_rgba())[..., :3]


def _check_drawable(motion: Motion, fps: float) -> None:
    """Raise a ValueError one-liner unless the motion has frames and finite positions, and both rates are positive."""
    if motion.num_frames == 0:
        raise ValueError("the motion has no frames to render")
    for rate, what in ((motion.fps, "the motion's frame rate (fps)"), (fps, "the playback rate")):
        if not (math.isfinite(rate) and rate > 0):
            raise ValueError(f"{what} is {rate:g}; it must be a positive number of frames per second")
    if not np.isfinite(np.asarray(motion.positions, dtype=np.float64)).all():
        raise ValueError("the motion has NaN or infinite joint positions; there is no pose to draw")


def render_video(motion: Motion, path: str | Path, fps: float | None = None, size: int = 480, progress: bool = True) -> Path:
    """Write the motion as an mp4 or gif animation (chosen by the file suffix); returns the path."""
    path = Path(path)
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise ValueError(f"cannot write a video to {path.name}: use a .mp4 or .gif file name")
    fps = fps or motion.fps
    _check_drawable(motion, fps)
    if size < MIN_SIZE:
        raise ValueError(f"a video of {size}x{size} pixels is too small to see; give a size of at least {MIN_SIZE}")
    size -= size % 16  # keeps H.264 happy without resizing

    def write(tmp: Path) -> None:
        writer = imageio_ffmpeg.write_frames(str(tmp), (size, size), fps=fps, macro_block_size=16, ffmpeg_log_level="error",
                                             **_ENCODERS[path.suffix.lower()])
        try:
            writer.send(None)
            for image in _frames(motion, size, progress):
                writer.send(np.ascontiguousarray(image))
        finally:
            writer.close()

    write_atomically(path, write)
    return path


def keyframes(motion: Motion, count: int) -> list[int]:
    """`count` frames spread over the motion, the middle of every segment among them when there is room."""
    count, last = min(count, motion.num_frames), motion.num_frames - 1
    middles = {(s.start + min(s.end, motion.num_frames) - 1) // 2 for s in motion.segments if s.start <= last}
    if not middles or len(middles) > count:
        return sorted(set(np.linspace(0, last, count).round().astype(int).tolist()))
    # The rest one by one, each where the strip has its widest gap.
    frames, chosen = np.arange(motion.num_frames), set(middles)
    while len(chosen) < count:
        gap = np.min(np.abs(frames[:, None] - np.array(sorted(chosen))[None, :]), axis=1)
        chosen.add(int(np.argmax(gap)))
    return sorted(chosen)


def render_filmstrip(motion: Motion, path: str | Path, num_frames: int = 8, panel: float = 2.2) -> Path:
    """Write a PNG strip of `num_frames` keyframes with their times and segment texts; returns the path."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"a filmstrip is a .png image; got {path.name}")
    if num_frames < 1:
        raise ValueError(f"a filmstrip needs num_frames >= 1, got {num_frames}")
    _check_drawable(motion, motion.fps)
    frames = keyframes(motion, num_frames)
    figure = Figure(figsize=(panel * len(frames), panel * 1.25), dpi=100)
    FigureCanvasAgg(figure)
    for axes, frame in zip(figure.subplots(1, len(frames), squeeze=False)[0], frames):
        scene = Scene(axes, motion, caption=False)
        scene.show(frame)
        index, text = scene.segment_at(frame)
        axes.set_title(f"{frame / motion.fps:.1f} s\n{text}", fontsize=8, color=segment_colour(index), wrap=True)
    figure.tight_layout()
    write_atomically(path, lambda tmp: figure.savefig(tmp, format="png"))
    return path
