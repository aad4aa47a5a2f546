"""`syncmotion batch`: jobs read and refused before any work, and on a local Ray cluster of 2 workers: the bytes of
`syncmotion motion`, a rerun that does nothing, failures recorded, a killed worker that loses and duplicates no job."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest
import torch

from syncmotion.commands import batch as batch_command
from syncmotion.files import MANIFEST
from syncmotion_lab.tiny_models.tiny_sd import tiny_pipeline
from syncmotion_lab.cli_checks import error_line
from syncmotion_lab.cli_checks import invoke as run

TINY = ["--steps", "2", "--formats", "npy,json,bvh"]
# Twelve tiny jobs, a few settings each; (id, line). Text jobs and script jobs, overrides of the command's defaults.
SCRIPTS = {"walk-jump": "a person walks forward | 1s\na person jumps | 1s\n", "wave": "@seed 4\na person waves | 2s\n"}
LINES = [
    {"id": "t0", "text": "a person walks forward", "seconds": 2},
    {"id": "t1", "text": "a person walks forward", "seconds": 2, "seed": 1},
    {"id": "t2", "text": "a person jumps; a person sits", "seconds": "1,2", "strategy": "multidiffusion"},
    {"id": "t3", "text": "a person waves", "seconds": 3, "inv-lambda": 2.0, "taper": False},
    {"id": "t4", "text": "a person runs", "seconds": 2, "formats": ["json", "png"]},
    {"id": "t5", "text": "a person walks forward", "seconds": 2, "num_samples": 2, "seed": 7},
    {"id": "t6", "text": "a person kicks", "seconds": 2, "steps": 3, "smooth": 0},
    {"id": "t7", "text": "a person turns around", "seconds": 2, "strategy": "doubletake"},
    {"id": "t8", "text": "a person sits down", "seconds": 2, "align": "even", "stitch": "paste"},
    {"id": "t9", "text": "a person walks forward", "seconds": 2, "guidance": 1.5},
    {"script": "walk-jump.txt"},
    {"script": "wave.txt", "formats": "npy,mp4"},
]


def write_jobs(folder, model, lines=LINES):
    for name, text in SCRIPTS.items():
        (folder / f"{name}.txt").write_text(text)
    path = folder / "jobs.jsonl"
    path.write_text("".join(json.dumps({"model": str(model), **line}) + "\n" for line in lines))
    return path


def planned_runs(monkeypatch) -> list[str]:
    """The ids of the jobs the command hands to Ray from now on, which it then does not start (for checks of the plan)."""
    ran: list[str] = []
    monkeypatch.setattr(batch_command, "_run", lambda jobs, *rest: ran.extend(job.id for job in jobs) or (len(jobs), 0, 1.0))
    return ran


def files_of(folder) -> dict[str, bytes]:
    """A job folder's files but the manifest (its time differs), by name."""
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if path.name != MANIFEST}


# --- refused before any work (no Ray needed) ---

@pytest.mark.parametrize("content, message", [
    ("nope\n", "jobs.jsonl:1: not a JSON object"),
    ('{"text": "walk"}\n[1, 2]\n', "jobs.jsonl:2: a job is a JSON object"),
    ('{"text": "walk", "stepz": 3}\n', "jobs.jsonl:1: unknown key 'stepz'"),
    ('{"text": "walk", "steps": -3}\n', 'jobs.jsonl:1: "steps": Invalid value'),
    ('{"text": "walk", "strategy": "best"}\n', 'jobs.jsonl:1: "strategy"'),
    ('{"text": "walk", "formats": "npy,avi"}\n', "jobs.jsonl:1: --formats 'npy,avi'"),
    ('{"text": "walk", "seconds": "nan"}\n', "jobs.jsonl:1: --seconds 'nan' is not a positive number"),
    ('{"text": "walk", "smpl": "nowhere.pkl"}\n', 'jobs.jsonl:1: "smpl": Invalid value'),
    ('{"prompt": "a castle"}\n', 'jobs.jsonl:1: an image job needs "model"'),
    ('{"prompt": "a castle", "model": "nowhere"}\n', '"model" nowhere is not a diffusers Stable Diffusion folder'),
    ('{"prompt": "a castle", "text": "walk"}\n', 'give "prompt" (an image) or "script"/"text" (a motion), not both'),
    ('{"steps": 3}\n', 'give "script" or "text"'),
    ('{"text": "walk", "id": "a"}\n{"text": "run", "id": "a"}\n', "jobs.jsonl:2: job id 'a' is also the id of"),
    ('{"text": "walk", "id": "../up"}\n', "cannot name a folder"),
    ("\n", "has no jobs"),
])
def test_bad_job_lines_are_one_line_before_any_work(tmp_path, content, message):
    (tmp_path / "jobs.jsonl").write_text(content)
    line = error_line(run("batch", str(tmp_path / "jobs.jsonl"), "--out", str(tmp_path / "out")))
    assert message in line
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def tiny_sd(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny_sd")
    tiny_pipeline(folder)
    return folder


@pytest.mark.parametrize("line, message", [
    ({"prompt": "  "}, '"prompt" is empty'),
    ({"prompt": "a castle", "size": "wide"}, "\"size\" 'wide' is not a size; give width x height"),
    ({"prompt": "a castle", "size": "128x64", "width": 128}, 'give "size" or "width"/"height", not both'),
    ({"prompt": "a castle", "size": "130x64"}, "width 130 is not a positive multiple of 8"),
    ({"prompt": "a castle", "size": "128x64", "window": 64}, '"window" 64 (512 px) is larger than the 128x64 image'),
    ({"prompt": "a castle", "size": "128x64", "window": 8, "stride": 0}, "\"stride\": Invalid value: 0"),
    ({"prompt": "a castle", "guidance": -1}, '"guidance": Invalid value: -1.0'),
    ({"prompt": "a castle", "strategy": "doubletake"}, '"strategy"'),
    ({"prompt": "a castle", "format": "jpg"}, "unknown key 'format' for an image job"),
])
def test_bad_image_lines_are_one_line_before_any_work(tmp_path, tiny_sd, line, message):
    (tmp_path / "jobs.jsonl").write_text(json.dumps({"model": str(tiny_sd), **line}) + "\n")
    result = run("batch", str(tmp_path / "jobs.jsonl"), "--out", str(tmp_path / "out"))
    assert result.exit_code != 0 and message in error_line(result)
    assert not (tmp_path / "out").exists()


def test_a_motion_only_strategy_of_the_command_is_no_default_for_image_jobs(tmp_path, tiny_sd):
    (tmp_path / "jobs.jsonl").write_text(json.dumps({"model": str(tiny_sd), "prompt": "a castle"}) + "\n")
    line = error_line(run("batch", str(tmp_path / "jobs.jsonl"), "--out", str(tmp_path / "out"), "--strategy", "doubletake"))
    assert "strategy 'doubletake' makes motions only" in line


def test_bad_jobs_folder_and_out_are_one_line(tmp_path):
    assert "JOBS" in error_line(run("batch", str(tmp_path / "missing"), "--out", str(tmp_path / "out")))
    (tmp_path / "empty").mkdir()
    assert "has no .txt scripts" in error_line(run("batch", str(tmp_path / "empty"), "--out", str(tmp_path / "out")))
    (tmp_path / "jobs.jsonl").write_text('{"text": "walk"}\n')
    (tmp_path / "a-file").write_text("")
    assert "is a file" in error_line(run("batch", str(tmp_path / "jobs.jsonl"), "--out", str(tmp_path / "a-file")))
    assert "--formats" in error_line(run("batch", str(tmp_path / "jobs.jsonl"), "--out", str(tmp_path / "o"), "--formats", "avi"))


def test_without_ray_batch_says_so_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` finds when Ray is not installed
    (tmp_path / "jobs.jsonl").write_text('{"text": "walk"}\n')
    line = error_line(run("batch", str(tmp_path / "jobs.jsonl"), "--out", str(tmp_path / "out")))
    assert "pip install 'syncmotion[batch]'" in line


# --- on a local Ray cluster of 2 CPUs ---

@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A local Ray cluster for this module, its workers sharing one text-embedding cache with the reference runs."""
    ray = pytest.importorskip("ray")
    cache = tmp_path_factory.mktemp("batch-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SYNCMOTION_CACHE_DIR", str(cache))
        patch.setenv("RAY_USAGE_STATS_ENABLED", "0")
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        yield cache
        ray.shutdown()


@pytest.fixture(scope="module")
def reference(cluster, tiny_embedded, tmp_path_factory):
    """Every job of LINES run on its own by `syncmotion motion` with one torch thread, as the workers run: files by id."""
    folder = tmp_path_factory.mktemp("reference")
    write_jobs(folder, tiny_embedded)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    outputs = {}
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("SYNCMOTION_CACHE_DIR", str(cluster))
            for line in LINES:
                job_id = line.get("id") or line["script"].removesuffix(".txt")
                options = {"steps": "2", "formats": "npy,json,bvh", "model": str(tiny_embedded)}
                options.update({key.replace("_", "-"): ",".join(value) if isinstance(value, list) else str(value)
                                for key, value in line.items() if key not in ("id", "script", "text", "seconds", "taper")})
                arguments = (["--text", line["text"], "--seconds", str(line["seconds"])] if "text" in line
                             else [str(folder / line["script"])])
                arguments += [item for key, value in options.items() for item in (f"--{key}", value)]
                arguments += ["--no-taper"] if line.get("taper") is False else []
                result = run("motion", *arguments, "--out", str(folder / job_id))
                assert result.exit_code == 0, result.output
                outputs[job_id] = files_of(folder / job_id)
    finally:
        torch.set_num_threads(threads)
    return outputs


def test_batch_makes_the_bytes_of_motion_and_a_rerun_does_nothing(tmp_path, cluster, reference, tiny_embedded, monkeypatch):
    monkeypatch.setenv("SYNCMOTION_CACHE_DIR", str(cluster))
    jobs, out = write_jobs(tmp_path, tiny_embedded), tmp_path / "out"
    result = run("batch", str(jobs), "--out", str(out), "--workers", "2", *TINY)
    assert result.exit_code == 0, result.output
    assert "made 12 of 12" in result.output and "2 model loads" in result.output
    assert sorted(path.name for path in out.iterdir()) == sorted(reference)
    for job_id, files in reference.items():
        assert files_of(out / job_id) == files, job_id
    stamps = {path: path.stat().st_mtime_ns for path in out.rglob("*")}
    again = run("batch", str(jobs), "--out", str(out), "--workers", "2", *TINY)
    assert again.exit_code == 0, again.output
    assert "12 done before" in again.output and "0 to make" in again.output and "worker" not in again.output
    assert {path: path.stat().st_mtime_ns for path in out.rglob("*")} == stamps
    # A half-written folder (no manifest) is not done; a job whose settings changed is a new job.
    (out / "t0" / MANIFEST).unlink()
    jobs = write_jobs(tmp_path, tiny_embedded, [{**line, "seed": 2} if line.get("id") == "t1" else line for line in LINES])
    ran = planned_runs(monkeypatch)
    changed = run("batch", str(jobs), "--out", str(out), *TINY)
    assert "10 done before" in changed.output and "2 to make" in changed.output and ran == ["t0", "t1"]


FAILING = [
    {"id": "too-long", "text": "a person walks forward", "seconds": 30, "max_seconds": 10},
    {"script": "broken.txt"},
    {"id": "no-model", "text": "a person walks forward", "model": "missing.bin"},
]


def test_a_killed_worker_or_a_failing_job_loses_and_duplicates_no_job(tmp_path, cluster, reference, tiny_embedded, monkeypatch):
    import ray

    monkeypatch.setenv("SYNCMOTION_CACHE_DIR", str(cluster))
    (tmp_path / "broken.txt").write_text("a person walks | 2s\nno duration here\n")
    jobs, out = write_jobs(tmp_path, tiny_embedded, LINES + FAILING), tmp_path / "out"
    killed = []

    def kill_a_worker_mid_run():
        """Once the first job is written (workers warm, others in flight), kill a worker as a crash would."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any((folder / MANIFEST).exists() for folder in out.glob("*")):
            time.sleep(0.02)
        workers = [actor for actor in ray.util.list_named_actors(all_namespaces=True)
                   if actor["name"].startswith("syncmotion-batch-worker")]
        ray.kill(ray.get_actor(workers[0]["name"], namespace=workers[0]["namespace"]))
        killed.append(workers[0]["name"])

    killer = threading.Thread(target=kill_a_worker_mid_run)
    killer.start()
    result = run("batch", str(jobs), "--out", str(out), "--workers", "2", *TINY)
    killer.join()
    assert killed and "a worker died running job" in result.output, result.output
    assert "made 12 of 14" in result.output and "3 of 15 jobs failed" in error_line(result)
    for job_id, files in reference.items():
        assert files_of(out / job_id) == files, job_id
    failures = {record["id"]: record for record in map(json.loads, (out / "failures.jsonl").read_text().splitlines())}
    assert set(failures) == {"too-long", "broken", "no-model"}
    assert "more than the 10 s limit" in failures["too-long"]["reason"]
    assert "broken.txt:2" in failures["broken"]["reason"]
    assert "missing.bin is not an MDM checkpoint" in failures["no-model"]["reason"]
    assert sorted(path.name for path in out.iterdir()) == sorted([*reference, "failures.jsonl"])  # nothing left half-way
    # A rerun skips the failed jobs too; --retry-failed runs them again (the mended script among them).
    again = run("batch", str(jobs), "--out", str(out), *TINY)
    assert "12 done before, 3 failed before" in again.output and "0 to make" in again.output and again.exit_code == 1
    ran = planned_runs(monkeypatch)
    (tmp_path / "broken.txt").write_text("a person walks | 2s\n")
    retried = run("batch", str(jobs), "--out", str(out), "--retry-failed", *TINY)
    assert "0 unreadable, 3 to make" in retried.output and ran == ["too-long", "broken", "no-model"]


IMAGES = [
    {"id": "castle", "prompt": "a castle on a hill", "size": "128x64", "window": 8, "stride": 4, "steps": 2},
    {"id": "sea", "prompt": "the sea", "width": 192, "height": 64, "window": 8, "stride": 8, "wrap": True, "steps": 3,
     "seed": 5, "strategy": "multidiffusion", "guidance": 3.0, "negative_prompt": "fog"},
]


def test_image_jobs_make_the_bytes_of_wide_beside_motion_jobs(tmp_path, cluster, tiny_sd, tiny_embedded, monkeypatch):
    monkeypatch.setenv("SYNCMOTION_CACHE_DIR", str(cluster))
    lines = [{"model": str(tiny_sd), **line} for line in IMAGES] + [{"id": "walk", "text": "a person walks forward", "seconds": 2}]
    jobs, out = write_jobs(tmp_path, tiny_embedded, lines), tmp_path / "out"
    result = run("batch", str(jobs), "--out", str(out), "--workers", "2", *TINY)
    assert result.exit_code == 0, result.output
    assert "made 3 of 3" in result.output
    assert sorted(path.name for path in (out / "castle").iterdir()) == sorted([MANIFEST, "panorama.png"])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the workers run
    try:
        for line in IMAGES:
            size = line.get("size") or f"{line['width']}x{line['height']}"
            width, height = size.split("x")
            arguments = ["wide", line["prompt"], "--model", str(tiny_sd), "--width", width, "--height", height,
                         "--device", "cpu", "--out", str(tmp_path / f"{line['id']}.png")]
            for key in ("window", "stride", "steps", "seed", "strategy", "guidance", "negative_prompt"):
                if key in line:
                    arguments += [f"--{key.replace('_', '-')}", str(line[key])]
            arguments += ["--wrap"] if line.get("wrap") else []
            alone = run(*arguments)
            assert alone.exit_code == 0, alone.output
            assert (out / line["id"] / "panorama.png").read_bytes() == (tmp_path / f"{line['id']}.png").read_bytes(), line["id"]
    finally:
        torch.set_num_threads(threads)
    settings = json.loads((out / "sea" / MANIFEST).read_text())["settings"]["image"]
    assert settings["strategy"] == "multidiffusion" and settings["wrap"] is True and settings["negative_prompt"] == "fog"
    again = run("batch", str(jobs), "--out", str(out), *TINY)
    assert "3 done before" in again.output and "0 to make" in again.output


def test_the_single_motion_path_never_imports_ray(tmp_path, tiny_embedded):
    code = ("import sys; from click.testing import CliRunner; from syncmotion.cli import main; "
            f"result = CliRunner().invoke(main, ['motion', '--text', 'walk', '--seconds', '2', '--steps', '1', '--formats', 'npy,json', "
            f"'--model', {str(tiny_embedded)!r}, '--out', {str(tmp_path / 'out')!r}]); "
            "assert result.exit_code == 0, result.output; print(sorted(m for m in sys.modules if m.split('.')[0] == 'ray'))")
    finished = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip().splitlines()[-1] == "[]"
