"""Output sets: a run's files land together or not at all, killed runs leave nothing behind, one writer at a time;
the viewer and `syncmotion render` on hidden, tampered, half-written and broken inputs."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from click.testing import CliRunner

from syncmotion.cli import main
from syncmotion.files import MANIFEST, check_output_file, check_output_folder, exit_on_sigterm, output_set, write_atomically
from syncmotion.motion.gltf import save_gltf
from syncmotion.motion.io import motion_to_dict, save_json, save_results_npy
from syncmotion.motion.types import Motion, Segment
from syncmotion.viewer import motion_files


def random_motion(frames: int = 12, seed: int = 0) -> Motion:
    positions = np.random.default_rng(seed).normal(size=(frames, 22, 3)).astype(np.float32)
    return Motion(positions, 20.0, [Segment("a person waves", 0, frames)])


def write_set(out, text: str = "first") -> None:
    with output_set(out, {"run": text}) as staging:
        save_json(random_motion(), staging / "motion.json")
        (staging / "motion.bvh").write_text(text)


def snapshot(folder) -> dict[str, bytes]:
    """Every entry beside and inside `folder` (hidden ones included), with the contents of its files."""
    entries = {path.name: b"<folder>" for path in folder.parent.iterdir() if path != folder}
    entries.update({f"{folder.name}/{path.name}": path.read_bytes() for path in folder.iterdir()})
    return entries


def test_a_set_lands_whole_with_a_manifest(tmp_path):
    out = tmp_path / "out"
    write_set(out)
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["settings"] == {"run": "first"} and manifest["created"]
    sizes = [(entry["name"], entry["size"]) for entry in manifest["files"]]
    assert sizes == [("motion.bvh", 5), ("motion.json", (out / "motion.json").stat().st_size)]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out"]  # no staging folder, no lock file


def test_the_next_set_replaces_only_the_previous_runs_files(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    # An older output without a manifest, a temporary of a run killed half-way, and a file of the user's.
    for name in ("motion_00.json", "motion_01.json", "results.npy", ".motion.abcd1234.mp4", "notes.txt"):
        (out / name).write_text(name)
    write_set(out)
    assert sorted(path.name for path in out.iterdir()) == sorted([MANIFEST, "motion.bvh", "motion.json", "notes.txt"])
    (out / "motion.gif").write_text("rendered by the user")  # not in the manifest: the user's
    with output_set(out, {}) as staging:
        (staging / "results.npy").write_text("second")
    assert sorted(path.name for path in out.iterdir()) == sorted([MANIFEST, "motion.gif", "notes.txt", "results.npy"])


@pytest.mark.parametrize("stop", [RuntimeError("export failed"), KeyboardInterrupt()], ids=["exception", "ctrl-c"])
def test_a_failed_run_leaves_out_as_it_was(tmp_path, stop):
    out = tmp_path / "out"
    write_set(out)
    before = snapshot(out)
    with pytest.raises(type(stop)):
        with output_set(out, {}) as staging:
            (staging / "motion.json").write_text("half")
            write_atomically(staging / "motion.mp4", lambda temporary: (temporary.write_text("half"), stop_now(stop)))
    assert snapshot(out) == before


def stop_now(error: BaseException) -> None:
    raise error


def test_sigterm_leaves_out_as_it_was(tmp_path):
    out = tmp_path / "out"
    write_set(out)
    before = snapshot(out)
    ready = tmp_path.parent / f"{tmp_path.name}-ready"
    program = textwrap.dedent(f"""
        import pathlib, time
        from syncmotion.files import output_set, write_atomically

        def write(temporary):
            temporary.write_text("half a video")
            pathlib.Path({str(ready)!r}).touch()
            time.sleep(60)

        with output_set(pathlib.Path({str(out)!r}), {{}}) as staging:
            (staging / "motion.json").write_text("new")
            write_atomically(staging / "motion.mp4", write)
    """)
    process = subprocess.Popen([sys.executable, "-c", program])
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert process.poll() is None and time.monotonic() < deadline, "the writer did not get going"
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 128 + signal.SIGTERM
    finally:
        process.kill()
        ready.unlink(missing_ok=True)
    assert snapshot(out) == before


def test_exit_on_sigterm_restores_the_previous_handler():
    previous = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit) as stopped:
        with exit_on_sigterm():
            signal.raise_signal(signal.SIGTERM)
            time.sleep(1)  # the handler runs at once; this line is not reached
    assert stopped.value.code == 143 and signal.getsignal(signal.SIGTERM) == previous


def test_a_second_run_into_the_same_out_fails_at_once(tmp_path):
    out = tmp_path / "out"
    with output_set(out, {}) as staging:
        (staging / "motion.json").write_text("first run")
        started = time.monotonic()
        message = f"another syncmotion run is writing to {out} (pid {os.getpid()}); wait for it or choose another --out"
        with pytest.raises(ValueError) as refused:
            with output_set(out, {}):
                pytest.fail("the second run got in")
        assert str(refused.value) == message and time.monotonic() - started < 2
        with pytest.raises(ValueError) as checked:
            check_output_folder(out)
        assert str(checked.value) == message
        with pytest.raises(ValueError, match="being written by a running syncmotion run"):
            motion_files([out])
    assert (out / "motion.json").read_text() == "first run"
    check_output_folder(out)  # free again


def test_staging_folders_of_killed_runs_are_cleaned_up(tmp_path):
    for name in (".out.staging-abcd1234", ".other.staging-efgh5678", ".busy.staging-ijkl9012"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "motion.json").write_text("left by kill -9")
    (tmp_path / ".out.lock").write_text("12345\n")  # its owner is gone: nobody holds it
    busy = os.open(tmp_path / ".busy.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(busy, fcntl.LOCK_EX)  # a live run writing to `busy`
        write_set(tmp_path / "out")
        assert sorted(path.name for path in tmp_path.iterdir()) == [".busy.lock", ".busy.staging-ijkl9012", "out"]
    finally:
        os.close(busy)


def test_out_under_a_file_or_in_a_locked_folder_is_refused(tmp_path):
    (tmp_path / "file.txt").write_text("a file")
    with pytest.raises(ValueError, match="file.txt is a file, not a folder"):
        check_output_folder(tmp_path / "file.txt" / "out")
    with pytest.raises(ValueError, match="is a file; give --out a folder"):
        check_output_folder(tmp_path / "file.txt")
    with pytest.raises(ValueError, match="is a folder; give --out a file name"):
        check_output_file(tmp_path)
    with pytest.raises(ValueError, match="file.txt is a file, not a folder"):
        with output_set(tmp_path / "file.txt" / "out", {}):
            pytest.fail("the run started")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_unwritable_out_is_refused(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(ValueError, match="permission denied"):
        check_output_folder(locked / "out")
    with pytest.raises(ValueError, match="permission denied"):
        check_output_file(locked / "m.mp4")


def test_view_ignores_hidden_files(tmp_path):
    save_json(random_motion(), tmp_path / "motion.json")
    (tmp_path / ".motion.abcd1234.json").write_text("{half a temporary")
    assert motion_files([tmp_path]) == [tmp_path / "motion.json"]


def test_view_opens_folders_without_a_manifest(tmp_path):
    save_results_npy([random_motion()], tmp_path / "results.npy")
    assert motion_files([tmp_path]) == [tmp_path / "results.npy"]
    save_gltf(random_motion(), tmp_path / "motion.glb")
    assert motion_files([tmp_path]) == [tmp_path / "motion.glb"]  # one kind a folder: glTF before results.npy


def test_view_opens_a_run_of_glb_files(tmp_path, tiny_embedded):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["motion", "--text", "walk", "--seconds", "2", "--model", str(tiny_embedded), "--out",
                                       str(out), "--formats", "npy,glb", "--steps", "2"])
    assert result.exit_code == 0 and f"syncmotion view {out}" in result.output, result.output
    assert motion_files([out]) == [out / "motion.glb"]


def test_view_serves_only_a_sets_checked_files(tmp_path):
    out = tmp_path / "out"
    write_set(out)
    save_json(random_motion(seed=1), out / "mine.json")  # not the run's: not shown
    assert motion_files([out]) == [out / "motion.json"]
    (out / "motion.json").write_text((out / "motion.json").read_text().replace("waves", "jumps"))
    message = f"{out / 'motion.json'} does not match the run's manifest (changed after the run); re-run or open the file directly"
    with pytest.raises(ValueError) as refused:
        motion_files([out])
    assert str(refused.value) == message
    result = CliRunner().invoke(main, ["view", str(out), "--no-browser"])
    assert result.exit_code != 0 and result.output.strip() == f"Error: {message}"
    assert motion_files([out / "motion.json"]) == [out / "motion.json"]  # the file itself still opens


def test_a_hostile_manifest_cannot_reach_outside_its_folder(tmp_path):
    out = tmp_path / "out"
    write_set(out)
    (tmp_path / "precious.json").write_text("keep me")
    manifest = json.loads((out / MANIFEST).read_text())
    manifest["files"].append({"name": "../precious.json", "size": 7, "sha256": "0" * 64})
    (out / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="is damaged"):
        write_set(out)
    with pytest.raises(ValueError, match="is damaged"):
        motion_files([out])
    assert (tmp_path / "precious.json").read_text() == "keep me"


def broken_json(tmp_path, spoil) -> object:
    document = motion_to_dict(random_motion())
    spoil(document)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize("spoil", [
    lambda document: document.__setitem__("fps", 0),
    lambda document: document.__setitem__("fps", -1),
    lambda document: document["positions"][3][4].__setitem__(1, float("nan")),
], ids=["fps-0", "fps-minus-1", "nan"])
@pytest.mark.parametrize("suffix", [".mp4", ".png"])
def test_render_refuses_a_broken_motion_in_one_line(tmp_path, spoil, suffix):
    path = broken_json(tmp_path, spoil)
    result = CliRunner().invoke(main, ["render", str(path), "--size", "64", "--out", str(tmp_path / f"m{suffix}")])
    assert result.exit_code != 0 and result.output.startswith("Error: ") and result.output.count("\n") == 1, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.json"]


def test_render_refuses_negative_lengths(tmp_path):
    save_results_npy([random_motion()], tmp_path / "results.npy")
    results = np.load(tmp_path / "results.npy", allow_pickle=True).item()
    results["lengths"] = np.array([-100])
    np.save(tmp_path / "results.npy", results, allow_pickle=True)
    result = CliRunner().invoke(main, ["render", str(tmp_path / "results.npy"), "--size", "64"])
    assert result.exit_code != 0 and result.output.startswith("Error: ") and result.output.count("\n") == 1, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.npy"]


def test_render_under_a_file_fails_before_loading(tmp_path):
    (tmp_path / "file.txt").write_text("a file")
    result = CliRunner().invoke(main, ["render", str(tmp_path / "missing.json"), "--out", str(tmp_path / "file.txt" / "m.mp4")])
    assert result.exit_code != 0 and "file.txt is a file, not a folder" in result.output and result.output.count("\n") == 1


def test_render_of_several_motions_is_all_or_nothing(tmp_path, monkeypatch):
    import syncmotion.render

    save_results_npy([random_motion(seed=0), random_motion(seed=1)], tmp_path / "results.npy")
    (tmp_path / "m_00.png").write_text("an older render")
    real, calls = syncmotion.render.render_filmstrip, []

    def fail_second(motion, path):
        calls.append(path)
        if len(calls) == 2:
            raise ValueError("the second one breaks")
        return real(motion, path)

    monkeypatch.setattr(syncmotion.render, "render_filmstrip", fail_second)
    result = CliRunner().invoke(main, ["render", str(tmp_path / "results.npy"), "--out", str(tmp_path / "m.png")])
    assert result.exit_code != 0 and "the second one breaks" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m_00.png", "results.npy"]
    assert (tmp_path / "m_00.png").read_text() == "an older render"
    monkeypatch.setattr(syncmotion.render, "render_filmstrip", real)
    result = CliRunner().invoke(main, ["render", str(tmp_path / "results.npy"), "--out", str(tmp_path / "m.png")])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m_00.png", "m_01.png", "results.npy"]
    assert (tmp_path / "m_00.png").read_bytes().startswith(b"\x89PNG")


def test_a_sigterm_that_a_library_turns_into_its_own_error_still_stops_the_process():
    with pytest.raises(SystemExit) as stopped:
        with exit_on_sigterm():
            try:
                signal.raise_signal(signal.SIGTERM)
            except SystemExit:
                # What matplotlib's drawing does with an exception raised inside its callback.
                raise ValueError("Invalid affine transformation matrix") from None
    assert stopped.value.code == 143
    with pytest.raises(ValueError, match="no signal here"), exit_on_sigterm():
        raise ValueError("no signal here")


@pytest.mark.parametrize("failing", ["tempfile.mkdtemp", "syncmotion.files._try_lock"])
def test_an_output_folder_whose_lock_or_staging_cannot_be_made_is_one_line_and_nothing_runs(tmp_path, monkeypatch, failing):
    # os.access answers yes to root where nothing can be made (/proc, a read-only mount): the error comes later.
    def refuse(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(failing, refuse)
    ran = []
    with pytest.raises(ValueError, match=f"^cannot write to {tmp_path}: No space left on device; choose another --out$"):
        with output_set(tmp_path / "out", {}):
            ran.append(True)
    assert not ran and not [path for path in tmp_path.iterdir() if path.name.startswith(".out.staging-")]
