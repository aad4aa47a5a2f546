"""Motion -> mp4 (imageio-ffmpeg's bundled ffmpeg), gif, or a PNG filmstrip of keyframes."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

from syncmotion.motion.io import write_atomically  # noqa: E402
from syncmotion.motion.types import Motion  # noqa: E402

from .scene import SEGMENT_COLOURS, Scene  # noqa: E402

VIDEO_SUFFIXES = (".mp4", ".gif")


def _frames(motion: Motion, size: int, progress: bool):
    """RGB frames [size, size, 3] of the whole motion, drawn one after the other on one figure."""
    figure = plt.figure(figsize=(size / 100, size / 100), dpi=100)
    try:
        axes = figure.add_axes((0, 0, 1, 1))
        scene = Scene(axes, motion)
        for frame in tqdm(range(motion.num_frames), desc="render", unit="frame", disable=not progress):
            scene.show(frame)
            figure.canvas.draw()
            yield np.asarray(figure.canvas.buffer_rgba())[..., :3]
    finally:
        plt.close(figure)


def render_video(motion: Motion, path: str | Path, fps: float | None = None, size: int = 480, progress: bool = True) -> Path:
    """Write the motion as an mp4 or gif animation (chosen by the file suffix); returns the path."""
    path = Path(path)
    if path.suffix not in VIDEO_SUFFIXES:
        raise ValueError(f"cannot write a video to {path.name}: use a .mp4 or .gif file name")
    if motion.num_frames == 0:
        raise ValueError("the motion has no frames to render")
    fps = fps or motion.fps
    size -= size % 16  # keeps H.264 happy without resizing

    def write(tmp: Path) -> None:
        if path.suffix == ".mp4":
            import imageio_ffmpeg

            writer = imageio_ffmpeg.write_frames(str(tmp), (size, size), fps=fps, codec="libx264", pix_fmt_out="yuv420p",
                                                 quality=7, macro_block_size=16, output_params=["-f", "mp4"])
            writer.send(None)
            for image in _frames(motion, size, progress):
                writer.send(np.ascontiguousarray(image))
            writer.close()
        else:
            import imageio.v2 as imageio

            with imageio.get_writer(str(tmp), format="GIF", mode="I", duration=1000 / fps, loop=0) as writer:
                for image in _frames(motion, size, progress):
                    writer.append_data(image)

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
    if path.suffix != ".png":
        raise ValueError(f"a filmstrip is a .png image; got {path.name}")
    if motion.num_frames == 0 or num_frames < 1:
        raise ValueError(f"a filmstrip needs a motion with frames and num_frames >= 1 (got {motion.num_frames} and {num_frames})")
    frames = keyframes(motion, num_frames)
    figure, axes_row = plt.subplots(1, len(frames), figsize=(panel * len(frames), panel * 1.25), dpi=100, squeeze=False)
    try:
        for axes, frame in zip(axes_row[0], frames):
            scene = Scene(axes, motion, caption=False)
            scene.show(frame)
            index, text = scene.segment_at(frame)
            colour = SEGMENT_COLOURS[index % len(SEGMENT_COLOURS)] if index >= 0 else "#333333"
            axes.set_title(f"{frame / motion.fps:.1f} s\n{text}", fontsize=8, color=colour, wrap=True)
        figure.tight_layout()
        write_atomically(path, lambda tmp: figure.savefig(tmp, format="png"))
    finally:
        plt.close(figure)
    return path
