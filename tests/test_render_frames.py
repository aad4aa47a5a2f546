"""Fast video frames: the painter's frames look like whole-figure draws, workers and the drawing process started ahead
give the same files, and a failing, interrupted or terminated render leaves no drawing process and no file behind."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from syncmotion.motion.types import Motion, Segment
from syncmotion.commands.motion_formats import will_draw
from syncmotion.render import frames, render_video, video
from syncmotion.render.scene import Scene
from syncmotion_lab.corpus import generate_clip

forking = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="drawing processes are forked on Linux only")


@pytest.fixture(scope="module")
def motion():
    positions = generate_clip("wave", None, np.random.default_rng(1)).positions[:40]
    return Motion(positions, 20.0, [Segment("a person waves", 0, 12), Segment("a person stands still", 12, 40)], [12])


def whole_figure_frames(motion: Motion, size: int) -> list[np.ndarray]:
    """The frames as matplotlib draws the whole figure (the reference for the look)."""
    figure = Figure(figsize=(size / 100, size / 100), dpi=100)
    canvas = FigureCanvasAgg(figure)
    scene = Scene(figure.add_axes((0, 0, 1, 1)), motion)
    images = []
    for frame in range(motion.num_frames):
        scene.show(frame)
        canvas.draw()
        images.append(np.asarray(canvas.buffer_rgba())[..., :3].copy())
    return images


@pytest.mark.parametrize("size", [480, 160])
def test_painted_frames_look_like_whole_figure_draws(motion, size):
    painter = frames.FramePainter(motion, size)
    painted = [painter.paint(frame)[..., :3].copy() for frame in range(motion.num_frames)]
    assert painter._clocks._patterns and None not in painter._clocks._patterns.values()  # the clock came from stamps
    for image, reference in zip(painted, whole_figure_frames(motion, size)):
        difference = np.abs(image.astype(int) - reference)
        # The same pixels, but where two glyphs of the caption overlap (blended once here, twice there).
        assert difference.max() <= 2 and (difference > 0).any(axis=-1).sum() <= 20


def test_a_font_without_tabular_digits_gets_the_clock_drawn_whole(motion, monkeypatch):
    monkeypatch.setattr(frames, "FIGURE_SPACE", "#")  # wider than a digit, and inked: the checks refuse the stamps
    painter = frames.FramePainter(motion, 160)
    painted = [painter.paint(frame)[..., :3].copy() for frame in range(motion.num_frames)]
    assert set(painter._clocks._patterns.values()) == {None}
    for image, reference in zip(painted, whole_figure_frames(motion, 160)):
        assert np.abs(image.astype(int) - reference).max() <= 2


@forking
def test_workers_draw_the_same_frames_and_videos_come_out_the_same_every_time(tmp_path, motion, monkeypatch):
    drawn = {}
    for workers in (1, 2):
        with video._drawn_frames(motion, 160, workers) as frames:
            drawn[workers] = [bytes(image) for image in frames]
    assert len(drawn[1]) == motion.num_frames and drawn[1] == drawn[2]
    for workers in (1, 2):
        monkeypatch.setattr(video, "worker_count", lambda num_frames, workers=workers: workers)
        first, second = (render_video(motion, tmp_path / f"m{workers}{run}.mp4", size=160, progress=False).read_bytes() for run in "ab")
        assert first == second
    assert not multiprocessing.active_children()


@forking
def test_a_filmstrip_drawn_beside_the_video_is_the_one_drawn_alone(tmp_path, motion, monkeypatch):
    written = {}
    for beside in (True, False):
        monkeypatch.setattr(video, "can_draw_beside", lambda beside=beside: beside)
        folder = tmp_path / str(beside)
        folder.mkdir()
        paths = video.render_filmstrip_and_videos(motion, folder / "m.png", [folder / "m.mp4", folder / "m.gif"], progress=False)
        assert [path.name for path in paths] == ["m.png", "m.mp4", "m.gif"]
        written[beside] = {path.name: path.read_bytes() for path in paths}
    assert written[True] == written[False] and not multiprocessing.active_children()


@forking
def test_a_failing_filmstrip_beside_the_video_is_one_error_and_leaves_no_process(tmp_path, motion, monkeypatch):
    def disk_full(motion, path):
        raise OSError("No space left on device")

    monkeypatch.setattr(video, "can_draw_beside", lambda: True)
    monkeypatch.setattr(video, "render_filmstrip", disk_full)  # the forked process inherits it
    with pytest.raises(RuntimeError, match="drawing the filmstrip failed: OSError: No space left on device"):
        video.render_filmstrip_and_videos(motion, tmp_path / "m.png", [tmp_path / "m.mp4"], progress=False)
    assert not multiprocessing.active_children()


@forking
def test_a_failing_video_stops_the_filmstrip_beside_it(tmp_path, motion, monkeypatch):
    started = multiprocessing.Event()

    def slow_filmstrip(motion, path):
        started.set()
        time.sleep(60)

    def broken_video(motion, path, fps=None, size=480, progress=True):
        assert started.wait(30)
        raise ValueError("cannot write a video here")

    monkeypatch.setattr(video, "can_draw_beside", lambda: True)
    monkeypatch.setattr(video, "render_filmstrip", slow_filmstrip)
    monkeypatch.setattr(video, "render_video", broken_video)
    began = time.monotonic()
    with pytest.raises(ValueError, match="cannot write a video here"):
        video.render_filmstrip_and_videos(motion, tmp_path / "m.png", [tmp_path / "m.mp4"], progress=False)
    assert time.monotonic() - began < 30 and not multiprocessing.active_children()


@forking
def test_a_failing_worker_is_one_error_and_leaves_nothing(tmp_path, motion, monkeypatch):
    paint = frames.FramePainter.paint

    def fail_late(self, frame):
        if frame >= 20:
            raise ValueError(f"cannot draw frame {frame}")
        return paint(self, frame)

    monkeypatch.setattr(video, "worker_count", lambda num_frames: 2)
    monkeypatch.setattr(frames.FramePainter, "paint", fail_late)
    with pytest.raises(RuntimeError, match="drawing the video failed: ValueError: cannot draw frame 2"):
        render_video(motion, tmp_path / "m.mp4", size=160, progress=False)
    assert not list(tmp_path.iterdir()) and not multiprocessing.active_children()


def descendants(pid: int) -> set[int]:
    """The processes below `pid` now (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def stopped_while_drawing(program: str, signum: int, drawing: Callable[[set[int]], bool]) -> tuple[int, set[int], str]:
    """Run `program`, send it `signum` once drawing(its descendants) holds (and 0.3 s more): its exit code, the
    processes that were below it then, and its stderr."""
    process = subprocess.Popen([sys.executable, "-c", program], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not drawing(descendants(process.pid)):
            assert process.poll() is None and time.monotonic() < deadline, process.stderr.read().decode()
            time.sleep(0.05)
        time.sleep(0.3)
        below = descendants(process.pid)
        process.send_signal(signum)
        code = process.wait(timeout=30)
    finally:
        process.kill()
        process.wait()
    return code, below, process.stderr.read().decode()


@forking
@pytest.mark.parametrize("workers", [1, 2], ids=["drawn-here", "workers"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "ctrl-c"])
def test_a_stopped_render_leaves_no_process_and_no_file(tmp_path, signum, workers):
    out = tmp_path / "out"
    out.mkdir()
    # A shell that starts this test in the background (a CI script run with &) hands its children SIGINT ignored;
    # a user's Ctrl-C reaches a process whose SIGINT is not, so the child takes Python's own handler back.
    program = textwrap.dedent(f"""
        import signal
        signal.signal(signal.SIGINT, signal.default_int_handler)
        import numpy as np
        from syncmotion.files import exit_on_sigterm
        from syncmotion.motion.types import Motion
        from syncmotion.render import render_video, video
        from syncmotion_lab.corpus import generate_clip

        video.worker_count = lambda num_frames: {workers}

        clip = generate_clip("walk", None, np.random.default_rng(0)).positions
        motion = Motion(np.concatenate([clip] * (2400 // len(clip) + 1))[:2400], 20.0)
        with exit_on_sigterm():
            render_video(motion, {str(out / "m.mp4")!r}, progress=False)
    """)
    # write_atomically's temporary exists once the drawing starts; ffmpeg and the workers run under it.
    code, below, errors = stopped_while_drawing(program, signum, lambda below: len(below) >= 1 + (workers if workers > 1 else 0)
                                                and bool(list(out.iterdir())))
    assert code == (143 if signum == signal.SIGTERM else -signal.SIGINT), errors
    time.sleep(0.2)
    assert not [pid for pid in below if alive(pid)]
    assert not list(out.iterdir())


def test_worker_count_leaves_a_core_to_ffmpeg():
    assert video.worker_count(10) == 1
    workers = video.worker_count(10_000)
    assert workers == 1 or 2 <= workers <= min(video.MAX_WORKERS, (os.cpu_count() or 1) - 1)


# A program that starts the drawing process ahead (before anything imports torch), makes the test's motion (or a long
# walk) and runs BODY with it; stdout's last line is JSON.
AHEAD = """
import json, signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)
from pathlib import Path
from syncmotion.render import ahead
assert ahead.start()
import numpy as np
from syncmotion.files import exit_on_sigterm
from syncmotion.motion.types import Motion, Segment
from syncmotion_lab.corpus import generate_clip

out = Path({out!r})
short = Motion(generate_clip("wave", None, np.random.default_rng(1)).positions[:40], 20.0,
               [Segment("a person waves", 0, 12), Segment("a person stands still", 12, 40)], [12])
clip = generate_clip("walk", None, np.random.default_rng(0)).positions
long = Motion(np.concatenate([clip] * (2400 // len(clip) + 1))[:2400], 20.0)
"""


def run_ahead(out: Path, body: str) -> tuple[subprocess.CompletedProcess, object]:
    """Run AHEAD + body in a new interpreter; the process and its last line of output, read as JSON."""
    program = AHEAD.format(out=str(out)) + textwrap.dedent(body)
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result, json.loads(result.stdout.splitlines()[-1])


@forking
def test_the_drawing_process_ahead_writes_the_same_files_and_the_command_never_imports_matplotlib(tmp_path, motion):
    ahead_folder, here = tmp_path / "ahead", tmp_path / "here"
    here.mkdir()
    _, (names, imported) = run_ahead(ahead_folder, """
        paths = ahead.render_filmstrip_and_videos(short, out / "m.png", [out / "m.mp4", out / "m.gif"], progress=False)
        print(json.dumps([[path.name for path in paths], "matplotlib" in sys.modules]))
    """)
    assert names == ["m.png", "m.mp4", "m.gif"] and imported is False
    video.render_filmstrip_and_videos(motion, here / "m.png", [here / "m.mp4", here / "m.gif"], progress=False)
    for name in names:
        assert (ahead_folder / name).read_bytes() == (here / name).read_bytes(), name


@forking
def test_an_error_in_the_drawing_process_is_the_error_drawing_here_raises_and_it_draws_on(tmp_path):
    _, (message, names) = run_ahead(tmp_path, """
        try:
            ahead.render_filmstrip_and_videos(short, None, [out / "m.avi"], progress=False)
        except ValueError as error:
            message = str(error)
        paths = ahead.render_filmstrip_and_videos(short, out / "m.png", [], progress=False)
        print(json.dumps([message, [path.name for path in paths]]))
    """)
    assert message == "cannot write a video to m.avi: use a .mp4 or .gif file name"
    assert names == ["m.png"] and sorted(path.name for path in tmp_path.iterdir()) == ["m.png"]


@forking
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL], ids=["sigterm", "ctrl-c", "killed"])
def test_a_command_stopped_while_the_process_ahead_draws_leaves_no_process_and_no_file(tmp_path, signum):
    out = tmp_path / "out"
    out.mkdir()
    program = AHEAD.format(out=str(out)) + textwrap.dedent("""
        with exit_on_sigterm():
            ahead.render_filmstrip_and_videos(long, out / "m.png", [out / "m.mp4"], progress=False)
    """)
    # The drawer, the filmstrip beside it and ffmpeg, with the video's temporary in the folder.
    code, below, errors = stopped_while_drawing(program, signum, lambda below: len(below) >= 3 and bool(list(out.glob(".m.*.mp4"))))
    assert code == {signal.SIGTERM: 143, signal.SIGINT: -signal.SIGINT, signal.SIGKILL: -signal.SIGKILL}[signum], errors
    # No temporary is left (the filmstrip may have been finished: a whole file, which a command's output set drops).
    def temporaries() -> list[str]:
        return [path.name for path in out.iterdir() if path.name.startswith(".")]

    deadline = time.monotonic() + 10  # killed outright, the command leaves the drawer to end on its own signal
    while ([pid for pid in below if alive(pid)] or temporaries()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in below if alive(pid)]
    assert not temporaries() and not list(out.glob("*.mp4"))


@forking
def test_syncmotion_motion_draws_in_the_process_started_ahead(tmp_path):
    program = ("import sys\nfrom syncmotion.cli import entry\ntry:\n    entry()\nexcept SystemExit as exit:\n"
               "    assert not exit.code, exit.code\nprint('matplotlib' in sys.modules)")
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "-c", program, "motion", "--text", "a person walks forward", "--seconds", "2",
                             "--steps", "2", "--formats", "npy,png", "--out", str(out)], capture_output=True, text=True,
                            timeout=300, env={**os.environ, "SYNCMOTION_SERVER_DIR": str(tmp_path / "no-server")})
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "False" and (out / "motion.png").stat().st_size > 0


@pytest.mark.parametrize("args, expected", [
    (["motion", "demo.txt"], True),
    (["motion", "demo.txt", "--formats", "npy,mp4"], True),
    (["motion", "demo.txt", "--formats=gif"], True),
    (["motion", "demo.txt", "--formats", "npy,json"], False),
    (["motion", "demo.txt", "--formats", "png", "--formats", "npy"], False),  # click takes the last
    (["motion", "--help"], False),
    (["render", "m.json", "--out", "m.mp4"], False),
    ([], False),
])
def test_which_command_lines_start_a_drawing_process_ahead(args, expected):
    assert will_draw(args) is expected
