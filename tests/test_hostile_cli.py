"""`syncmotion motion` against hostile and broken input: one clear line, a non-zero exit, nothing written, no work lost."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from syncmotion.backends.mdm_network import MDMConfig, MDMNetwork
from syncmotion.files import output_set
from syncmotion_lab.cli_checks import error_line, invoke
from syncmotion_lab.tiny_models.tiny_mdm import save_identity_meta, save_official_checkpoint


def run(*arguments: str):
    """The motion command's result, with the rule every refusal here must keep: exit 1 or 2 through click, no traceback."""
    return invoke("motion", *arguments)


def test_a_script_within_one_window_keeps_every_segments_text(tmp_path, tiny_embedded):
    script = tmp_path / "short.txt"  # 40 frames: the tiny model's window, as 4 s is the embedded model's
    script.write_text("a person walks forward | 1s\na person jumps in place | 1s\n")
    result = run(str(script), "--model", str(tiny_embedded), "--formats", "json", "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    meta = json.loads((tmp_path / "out" / "motion.json").read_text())["meta"]
    assert meta["window_texts"] == ["a person walks forward", "a person jumps in place"]


def test_one_step_of_syncsde_samples(tmp_path, tiny_embedded):
    result = run("--text", "walk", "--seconds", "3", "--steps", "1", "--model", str(tiny_embedded), "--formats", "json",
                 "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "motion.json").is_file()


@pytest.mark.parametrize("arguments, message", [
    (["--device", "cuda:7"], "--device"),
    (["--device", "bogus"], "'bogus' is not a torch device"),
    (["--device", "meta"], "cannot run on the 'meta' device"),
    (["--inv-lambda", "inf"], "'inf' is not a finite number"),
    (["--guidance", "nan"], "'nan' is not a finite number"),
    (["--seed", "99999999999999999999"], "--seed"),
    (["--seed", "-1"], "--seed"),
    (["--smooth", "1"], "--smooth must be 0 (off) or an odd number of frames >= 3"),
    (["--seconds", "nan"], "--seconds 'nan' is not a positive number of seconds"),
    (["--seconds", "1e999"], "--seconds '1e999' is not a positive number of seconds"),
    (["--text", "walk # fast"], "contains '#', which starts a comment"),
    (["--text", "walk | fast"], "contains '|'"),
])
def test_bad_options_are_refused_before_any_work(tmp_path, tiny_embedded, arguments, message):
    given = dict(zip(arguments[::2], arguments[1::2]))
    text = [] if "--text" in given else ["--text", "walk"]
    out = tmp_path / "out"
    line = error_line(run(*text, *arguments, "--model", str(tiny_embedded), "--out", str(out)))
    assert message in line
    assert not out.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("script, message", [
    ("a person walks forward | 100000s\n", "asks for 100000 s of motion, more than the 600 s limit (about"),
    ("a person walks forward | 99999999999999999999s\n", "more than the 600 s limit"),
    ("walk | " + "9" * 400 + "s\n", "too large to be a number of seconds"),
    ("@seed 99999999999999999999\nwalk | 2s\n", "@seed must be a whole number from 0 to"),
    ("@fps nan\nwalk | 2s\n", "@fps must be a positive number"),
])
def test_bad_scripts_are_refused_in_one_line(tmp_path, tiny_embedded, script, message):
    path = tmp_path / "script.txt"
    path.write_text(script)
    out = tmp_path / "out"
    line = error_line(run(str(path), "--model", str(tiny_embedded), "--out", str(out)))
    assert message in line
    assert not out.exists()


def test_the_length_limit_counts_every_sample_and_can_be_raised(tmp_path, tiny_embedded):
    out = tmp_path / "out"
    line = error_line(run("--text", "walk", "--seconds", "3", "--num-samples", "2", "--max-seconds", "5",
                          "--model", str(tiny_embedded), "--out", str(out)))
    assert "6 s of motion (2 samples), more than the 5 s limit" in line and "GB" in line and "--max-seconds 6" in line
    assert line.startswith("Error: --text asks for")
    assert not out.exists()
    result = run("--text", "walk", "--seconds", "3", "--num-samples", "2", "--max-seconds", "6",
                 "--model", str(tiny_embedded), "--formats", "json", "--out", str(out))
    assert result.exit_code == 0, result.output


def test_a_byte_order_mark_does_not_hide_the_first_setting(tmp_path, tiny_embedded):
    path = tmp_path / "bom.txt"
    path.write_bytes("\ufeff@seed 3\nwalk | 2s\n".encode())
    result = run(str(path), "--model", str(tiny_embedded), "--formats", "json", "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "out" / "motion.json").read_text())["meta"]["seed"] == 3


def test_output_problems_stop_the_run_before_generation(tmp_path, tiny_embedded):
    (tmp_path / "a-file").write_text("not a folder")
    result = run("--text", "walk", "--model", str(tiny_embedded), "--out", str(tmp_path / "a-file" / "out"))
    assert "is a file, not a folder" in error_line(result)
    assert "generated in" not in result.output
    busy = tmp_path / "busy"
    with output_set(busy, {}):
        result = run("--text", "walk", "--model", str(tiny_embedded), "--out", str(busy))
        assert "another syncmotion run is writing to" in error_line(result)
        assert "generated in" not in result.output


def test_a_damaged_model_file_is_one_line(tmp_path):
    model = tmp_path / "model.safetensors"
    model.write_bytes(bytes(range(256)) * 8)
    line = error_line(run("--text", "walk", "--model", str(model), "--out", str(tmp_path / "out")))
    assert "is not a readable safetensors file" in line


@pytest.mark.parametrize("config", ["{not json", '{"model_type": "clip"}'])
def test_a_broken_clip_folder_is_one_line(tmp_path, config):
    args = {"arch": "trans_enc", "dataset": "humanml", "latent_dim": 16, "layers": 1, "noise_schedule": "cosine",
            "diffusion_steps": 1000}
    checkpoint = save_official_checkpoint(tmp_path / "ckpt", args, MDMNetwork(MDMConfig(latent_dim=16, layers=1)))
    meta = save_identity_meta(tmp_path / "meta")
    (tmp_path / "clip").mkdir()
    (tmp_path / "clip" / "config.json").write_text(config)
    line = error_line(run("--text", "walk", "--model", str(checkpoint), "--meta", str(meta), "--clip", str(tmp_path / "clip"),
                          "--out", str(tmp_path / "out")))
    assert f"cannot load the CLIP folder {tmp_path / 'clip'}" in line
    assert not (tmp_path / "out").exists()


def test_sigterm_during_the_video_leaves_the_previous_run_untouched(tmp_path, tiny_embedded):
    out = tmp_path / "out"
    command = [sys.executable, "-c", "from syncmotion.cli import main; main()", "motion", "--text", "walk", "--seconds", "20",
               "--model", str(tiny_embedded), "--formats", "json,mp4", "--out", str(out)]
    subprocess.run([*command, "--formats", "json"], check=True, capture_output=True)
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    # The JSON is written before the video: once it is in the staging folder, the video is being rendered.
    while not list(tmp_path.glob(".out.staging-*/motion.json")):
        assert process.poll() is None and time.monotonic() < deadline, "the run ended before its video began"
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 143
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out"]
