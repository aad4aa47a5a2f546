"""Motion -> mp4 or gif (both through imageio-ffmpeg's bundled ffmpeg), or a PNG filmstrip of keyframes.

A video's frames are drawn by a FramePainter (frames.py) and piped to one ffmpeg. On one or two cores they are
drawn in this process while a single x264 thread encodes: each keeps a core busy, and more x264 threads or
drawing processes only added work (on this project's 2-core machine, two workers took more CPU time for the same
wall time). With three or more cores, worker processes draw (two at most; Linux only, as they are forked): worker
w draws chunks w, w + workers, ... of up to CHUNK frames (8 MB) and sends each chunk whole through a pipe, and this process
takes the chunks in order. The workers are forked before ffmpeg starts, so that none of them holds ffmpeg's input
open, and are stopped in a finally: an error, Ctrl-C or SIGTERM leaves none of them behind.

A motion's filmstrip is drawn by one more forked process while its videos are drawn (render_filmstrip_and_videos),
stopped the same way. `syncmotion motion` runs all of this in the drawing process it started before importing torch
(ahead.py), so "this process" above is that one there.
"""

from __future__ import annotations

import fcntl
import io
import math
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import imageio_ffmpeg
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from tqdm import tqdm

from syncmotion.files import exit_on_sigterm, write_atomically
from syncmotion.motion.arrays import check_finite
from syncmotion.motion.types import Motion, Segment

from .forking import as_child, can_draw_beside, forking_cores, start_forked
from .frames import FramePainter
from .scene import Scene, segment_colour

# ffmpeg settings per output. A GIF gets a palette per frame (palettegen stats_mode=single, paletteuse new=1):
# one palette for the whole video would make ffmpeg hold every frame until the last one arrives.
# H.264 at the same quality (crf 15): libx264's default preset, medium, was the biggest single cost of an mp4 once
# the drawing got fast; veryfast with the quickest subpixel search (subme=1) and a 5-frame lookahead takes under
# half its CPU time for a 10% smaller file of our drawings (PSNR 39.0 dB against medium's 39.5).
_X264 = ["-preset", "veryfast", "-x264-params", "subme=1:rc-lookahead=5"]
_GIF_FILTER = "split[a][b];[a]palettegen=stats_mode=single:reserve_transparent=0[p];[b][p]paletteuse=new=1:dither=none"
_ENCODERS: dict[str, dict] = {
    ".mp4": {"codec": "libx264", "pix_fmt_out": "yuv420p", "quality": 7, "output_params": [*_X264, "-f", "mp4"]},
    ".gif": {"codec": "gif", "pix_fmt_out": "pal8", "quality": None, "output_params": ["-filter_complex", _GIF_FILTER, "-f", "gif"]},
}
VIDEO_SUFFIXES = tuple(_ENCODERS)
MIN_SIZE = 64
MAX_WORKERS = 2
CHUNK = 8  # frames per message from a worker, at most
CHUNK_BYTES = 8 << 20  # ... and at most this many bytes (unless one frame is more)


def worker_count(num_frames: int) -> int:
    """How many processes draw a video of `num_frames` frames here (1: this one alone); a core is left to ffmpeg."""
    workers = min(MAX_WORKERS, forking_cores() - 1, num_frames // (4 * CHUNK))
    return workers if workers > 1 else 1


def _pipe() -> tuple[int, int]:
    """A pipe (read end, write end) with a buffer of a megabyte where Linux allows it: fewer wake-ups per frame."""
    reader, writer = os.pipe()
    try:
        fcntl.fcntl(writer, getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
    except OSError:
        pass
    return reader, writer


def _write_all(descriptor: int, data: memoryview) -> None:
    while data:
        data = data[os.write(descriptor, data):]


def _read_all(descriptor: int, buffer: memoryview) -> None:
    """Fill `buffer` from the pipe; EOFError when it is closed first."""
    with open(descriptor, "rb", buffering=0, closefd=False) as pipe:
        while buffer:
            count = pipe.readinto(buffer)
            if not count:
                raise EOFError
            buffer = buffer[count:]


def _chunk_length(size: int) -> int:
    """Frames per chunk of RGBA frames `size` pixels square."""
    return max(1, min(CHUNK, CHUNK_BYTES // (size * size * 4)))


def _draw_chunks(painter: FramePainter, size: int, starts: Sequence[int], writer: int, others: list[int]) -> None:
    """A worker: draw the chunks of frames beginning at `starts`, each sent as b"F" + its RGBA images to `writer`.

    A failure is sent as b"E" + 4 bytes of length + a message. `others` are the parent's pipe ends to close.
    """
    as_child()
    for descriptor in others:
        os.close(descriptor)
    try:
        num_frames, chunk, frame_bytes = painter.scene.motion.num_frames, _chunk_length(size), size * size * 4
        message = bytearray(1 + chunk * frame_bytes)
        message[0] = ord("F")
        images = np.frombuffer(message, np.uint8, offset=1).reshape(chunk, size, size, 4)
        for start in starts:
            frames = range(start, min(start + chunk, num_frames))
            for image, frame in zip(images, frames):
                image[...] = painter.paint(frame)
            _write_all(writer, memoryview(message)[:1 + len(frames) * frame_bytes])
    except Exception as error:
        text = f"{type(error).__name__}: {error}".encode()
        try:
            _write_all(writer, memoryview(b"E" + len(text).to_bytes(4, "little") + text))
        except OSError:
            pass  # the parent has gone
    finally:
        os.close(writer)


@contextmanager
def _drawn_frames(motion: Motion, size: int, workers: int) -> Iterator[Iterator[memoryview | np.ndarray]]:
    """The RGBA frames [size, size, 4] of the motion in order, each valid until the next is taken.

    The workers start on entering (fork them before starting any other child process) and are ended on leaving.
    """
    painter = FramePainter(motion, size)
    if workers == 1:
        yield (painter.paint(frame) for frame in range(motion.num_frames))
        return
    painter.prepare(range(motion.num_frames))  # once here rather than once in every worker
    context = multiprocessing.get_context("fork")
    starts = range(0, motion.num_frames, _chunk_length(size))
    processes: list[multiprocessing.process.BaseProcess] = []
    readers: list[int] = []
    try:
        for index in range(workers):
            reader, writer = _pipe()
            readers.append(reader)
            process = context.Process(target=_draw_chunks, args=(painter, size, starts[index::workers], writer, list(readers)),
                                      name=f"syncmotion-render-{index}", daemon=True)
            try:
                start_forked(process)
            finally:
                os.close(writer)
            processes.append(process)
        yield _received(motion, size, readers, processes)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join()
            process.close()
        for reader in readers:
            os.close(reader)


def _received(motion: Motion, size: int, readers: list[int], processes: list) -> Iterator[memoryview]:
    """The frames from the workers' pipes in order (chunk n from worker n % workers), each valid until the next."""
    chunk, frame_bytes = _chunk_length(size), size * size * 4
    buffer = memoryview(bytearray(1 + chunk * frame_bytes))
    for number, start in enumerate(range(0, motion.num_frames, chunk)):
        worker = number % len(readers)
        message = buffer[:1 + (min(start + chunk, motion.num_frames) - start) * frame_bytes]
        try:
            _read_all(readers[worker], message[:1])
            if message[0] != ord("F"):
                length = bytearray(4)
                _read_all(readers[worker], memoryview(length))
                text = bytearray(int.from_bytes(length, "little"))
                _read_all(readers[worker], memoryview(text))
                raise RuntimeError(f"drawing the video failed: {text.decode(errors='replace')}")
            _read_all(readers[worker], message[1:])
        except EOFError:
            processes[worker].join(1)
            raise RuntimeError(f"a drawing process ended early (exit code {processes[worker].exitcode})") from None
        for offset in range(1, len(message), frame_bytes):
            yield message[offset:offset + frame_bytes]


def _check_drawable(motion: Motion, fps: float) -> None:
    """Raise a ValueError one-liner unless the motion has frames and finite positions, and both rates are positive."""
    if motion.num_frames == 0:
        raise ValueError("the motion has no frames to render")
    for rate, what in ((motion.fps, "the motion's frame rate (fps)"), (fps, "the playback rate")):
        if not (math.isfinite(rate) and rate > 0):
            raise ValueError(f"{what} is {rate:g}; it must be a positive number of frames per second")
    check_finite(np.asarray(motion.positions), "drawing")


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

    workers = worker_count(motion.num_frames)
    encoder = dict(_ENCODERS[path.suffix.lower()])
    if encoder["codec"] == "libx264" and workers == 1:
        encoder["output_params"] = ["-threads", "1", *encoder["output_params"]]

    def write(tmp: Path) -> None:
        with _drawn_frames(motion, size, workers) as frames:
            writer = imageio_ffmpeg.write_frames(str(tmp), (size, size), pix_fmt_in="rgba", fps=fps, macro_block_size=16,
                                                 ffmpeg_log_level="error", **encoder)
            try:
                writer.send(None)
                for image in tqdm(frames, total=motion.num_frames, desc="render", unit="frame", disable=not progress):
                    writer.send(image)
            finally:
                writer.close()

    write_atomically(path, write)
    return path


def warm_up() -> None:
    """Load what a first drawing needs (fonts, the Agg canvas, the PNG writer, ffmpeg's path), so a real one starts at once."""
    motion = Motion(np.zeros((2, 22, 3), np.float32), segments=[Segment("warming up", 0, 2)])
    FramePainter(motion, MIN_SIZE).paint(1)
    figure = Figure(figsize=(1, 1), dpi=MIN_SIZE)
    FigureCanvasAgg(figure)
    figure.text(0.5, 0.5, "0.0 s", fontsize=8)
    figure.savefig(io.BytesIO(), format="png")
    imageio_ffmpeg.get_ffmpeg_exe()


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


def _filmstrip_path(path: str | Path) -> Path:
    """`path` as a Path, or a ValueError unless it names a .png file."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"a filmstrip is a .png image; got {path.name}")
    return path


def render_filmstrip(motion: Motion, path: str | Path, num_frames: int = 8, panel: float = 2.2) -> Path:
    """Write a PNG strip of `num_frames` keyframes with their times and segment texts; returns the path."""
    path = _filmstrip_path(path)
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


def _draw_in_child(draw: Callable[[], object], writer: int, reader: int) -> None:
    """A forked process: run `draw`; a failure is written to `writer` as a short message and the exit code is 1.

    Stopped by SIGTERM, it removes the file it was writing (and exits with 143).
    """
    as_child()
    os.close(reader)
    try:
        with exit_on_sigterm():
            draw()
    except Exception as error:
        # Short enough for the pipe's buffer: the parent reads it only after this process has ended.
        _write_all(writer, memoryview(f"{type(error).__name__}: {error}".encode()[:4000]))
        sys.exit(1)
    finally:
        os.close(writer)


@contextmanager
def _drawing_beside(draw: Callable[[], object], what: str) -> Iterator[None]:
    """Run `draw` (matplotlib and NumPy only: nothing that uses torch's threads) in a forked process while the block
    runs; its failure is raised as a RuntimeError when the block ends. An error or Ctrl-C in the block stops it."""
    reader, writer = os.pipe()
    process = multiprocessing.get_context("fork").Process(target=_draw_in_child, args=(draw, writer, reader),
                                                          name=f"syncmotion-{what}", daemon=True)
    try:
        start_forked(process)
    finally:
        os.close(writer)
    try:
        yield
        process.join()
        if process.exitcode != 0:
            with open(reader, "rb", closefd=False) as pipe:
                message = pipe.read().decode(errors="replace")
            raise RuntimeError(f"drawing the {what} failed: {message or f'exit code {process.exitcode}'}")
    finally:
        if process.is_alive():
            process.terminate()
        process.join()
        process.close()
        os.close(reader)


def render_filmstrip_and_videos(motion: Motion, filmstrip: str | Path | None, videos: Sequence[str | Path],
                                progress: bool = True) -> list[Path]:
    """Write a motion's filmstrip and videos (either may be absent); returns the paths, the filmstrip first."""
    videos = [Path(video) for video in videos]
    if filmstrip is None or not videos or not can_draw_beside():
        drawn = [render_filmstrip(motion, filmstrip)] if filmstrip is not None else []
        return drawn + [render_video(motion, video, progress=progress) for video in videos]
    # The filmstrip is drawn by a second process meanwhile: a video keeps about one core busy drawing and x264 most of
    # another, so the strip's half second mostly disappears (the demo's exports: 2.6-3.0 s against 2.8-4.0 s).
    filmstrip = _filmstrip_path(filmstrip)
    _check_drawable(motion, motion.fps)  # here, so that a motion that cannot be drawn is a ValueError as in-process
    with _drawing_beside(lambda: render_filmstrip(motion, filmstrip), "filmstrip"):
        drawn = [render_video(motion, video, progress=progress) for video in videos]
    return [filmstrip, *drawn]


def write_frames(path: str | Path, frames: Sequence[np.ndarray], fps: float) -> Path:
    """Write ready RGB frames (each H×W×3 uint8, H and W multiples of 16) as an mp4 or gif by the suffix; returns the path."""
    path = Path(path)
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise ValueError(f"cannot write a video to {path.name}: use a .mp4 or .gif file name")
    height, width = frames[0].shape[:2]

    def write(tmp: Path) -> None:
        writer = imageio_ffmpeg.write_frames(str(tmp), (width, height), pix_fmt_in="rgb24", fps=fps, macro_block_size=16,
                                             ffmpeg_log_level="error", **_ENCODERS[path.suffix.lower()])
        try:
            writer.send(None)
            for frame in frames:
                writer.send(np.ascontiguousarray(frame))
        finally:
            writer.close()

    write_atomically(path, write)
    return path
