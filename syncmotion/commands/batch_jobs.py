"""The jobs of `syncmotion batch`: a folder of scripts or a JSONL file, read and checked before any work starts.

A JSONL line is one job: `script` (a path, relative to the JSONL file) or `text` (prompts separated by ';') with
`seconds`, an optional `id`, and any generation option of `syncmotion motion` by its name (`steps`, `strategy`,
`inv_lambda` or `inv-lambda`, `formats` as "npy,json" or a list, ...), which overrides the command's own value for
that job. A script's job id is its file name without the extension; a text job without an id is `line-N`.

A line with a `prompt` is an image job instead: a wide image as `syncmotion wide` makes it (see batch_images.py).

A line that cannot be a job (not JSON, an unknown key, a value its option refuses) stops the command before any
work, naming the line; a job whose script cannot be read is a failed job (recorded, the others still run).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from syncmotion.motion.script import Script, ScriptError, parse_script

from .batch_images import ImageJob, image_job, line_value
from .motion import MotionJob, motion_job, read_script

FAILURES = "failures.jsonl"
# Keys of a line beyond the generation options; paths in a line are relative to the JSONL file.
JOB_KEYS = ("id", "script", "text", "seconds")
PATH_KEYS = ("script", "model", "meta", "clip", "smpl")
# An id names a folder of DIR: no separators, no leading dot (hidden, and the staging folders' prefix).
_ID = re.compile(r"[^\W][\w .,+=@-]*")


@dataclass(frozen=True)
class BatchJob:
    """One job of a batch: its id (its folder under DIR), where it came from, and the motion job or why it cannot run."""

    id: str
    where: str
    settings: dict[str, Any]  # what the job asks for, as its output manifest records it
    job: MotionJob | ImageJob | None
    problem: str | None = None

    @property
    def fingerprint(self) -> str:
        """A digest of the job's settings: a job with the same fingerprint is the same job."""
        return hashlib.sha256(json.dumps(self.settings, sort_keys=True).encode()).hexdigest()


def _plain(value: Any) -> Any:
    """`value` as JSON gives it back (paths as text), so settings compare equal to those read from a manifest."""
    return json.loads(json.dumps(value, default=str, sort_keys=True))


def _absolute_paths(params: Mapping[str, Any]) -> dict[str, Any]:
    """`params` with their paths made absolute: workers may run in another folder than this command."""
    return {key: value.absolute() if key in PATH_KEYS and isinstance(value, Path) else value for key, value in params.items()}


def _job(job_id: str, where: str, script_path: Path | None, text: str | None, seconds: str, params: Mapping[str, Any]) -> BatchJob:
    """The job for a script file or for text prompts; only an unreadable script makes a job that cannot run."""
    if script_path is not None:
        source: dict[str, Any] = {"script": str(script_path)}
        try:
            script: Script | None = parse_script(script_path)
            problem = None
            source["script_sha256"] = hashlib.sha256(script_path.read_bytes()).hexdigest()
        except ScriptError as error:
            script, problem = None, str(error)
    else:
        try:
            script, _ = read_script(None, text, seconds)
        except click.ClickException as error:
            raise ValueError(f"{where}: {error.format_message()}") from None
        source, problem = {"text": text, "seconds": seconds}, None
    try:
        job = motion_job(script, params) if script is not None else None
    except (click.ClickException, ValueError) as error:
        message = error.format_message() if isinstance(error, click.ClickException) else str(error)
        raise ValueError(f"{where}: {message}") from None
    return BatchJob(job_id, where, _plain({"job": job_id, **source, "options": dict(params)}), job, problem)


def _check_id(job_id: object, where: str) -> str:
    if not isinstance(job_id, str) or not _ID.fullmatch(job_id) or job_id == FAILURES:
        raise ValueError(f"{where}: job id {job_id!r} cannot name a folder; give an \"id\" of letters, digits, '.', '_' or '-'")
    return job_id


def _convert(key: str, value: Any, option: click.Parameter, where: str, ctx: click.Context) -> Any:
    """A line's `value` for `key`, read by the command's own option as if typed on the command line."""
    if key == "formats" and isinstance(value, list):
        value = ",".join(map(str, value))
    return line_value(key, value, where, lambda given: option.type_cast_value(ctx, given))


def _line_job(number: int, line: str, path: Path, defaults: Mapping[str, Any], seconds: str,
              options: Mapping[str, click.Parameter], ctx: click.Context) -> BatchJob:
    where = f"{path}:{number}"
    try:
        entry = json.loads(line)
    except json.JSONDecodeError as error:
        raise ValueError(f"{where}: not a JSON object ({error.msg}); write one job per line, "
                         "e.g. {\"text\": \"a person walks\", \"seconds\": 4}") from None
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: a job is a JSON object, e.g. {{\"script\": \"walk.txt\"}}, not {type(entry).__name__}")
    entry = {str(key).replace("-", "_"): value for key, value in entry.items()}
    if "prompt" in entry:
        if "script" in entry or "text" in entry:
            raise ValueError(f"{where}: give \"prompt\" (an image) or \"script\"/\"text\" (a motion), not both")
        job_id = _check_id(entry.get("id", f"line-{number}"), where)
        image = image_job(entry, where, path.parent.absolute(), defaults)
        return BatchJob(job_id, where, _plain({"job": job_id, "image": image.settings()}), image)
    unknown = sorted(set(entry) - set(JOB_KEYS) - set(options))
    if unknown:
        raise ValueError(f"{where}: unknown key {unknown[0]!r}; a line takes {', '.join(JOB_KEYS)} and the options of "
                         f"`syncmotion batch --help` ({', '.join(sorted(options))})")
    if ("script" in entry) == ("text" in entry):
        raise ValueError(f"{where}: give \"script\" or \"text\" (exactly one of them) for a motion, or \"prompt\" for an image")
    base = path.parent.absolute()
    # Paths in a line are relative to the JSONL file, also for the options that check their path exists.
    entry = {key: str(base / value) if key in PATH_KEYS and isinstance(value, str) and value else value
             for key, value in entry.items()}
    overrides = {key: _convert(key, value, options[key], where, ctx) for key, value in entry.items() if key in options}
    params = {**defaults, **overrides}
    if "script" in entry:
        if not isinstance(entry["script"], str) or not entry["script"]:
            raise ValueError(f"{where}: \"script\" must be the path of a script file")
        script_path = Path(entry["script"])
        job_id = _check_id(entry.get("id", script_path.stem), where)
        return _job(job_id, where, script_path, None, "", params)
    if not isinstance(entry["text"], str):
        raise ValueError(f"{where}: \"text\" must be prompts separated by ';'")
    job_id = _check_id(entry.get("id", f"line-{number}"), where)
    return _job(job_id, where, None, entry["text"], str(entry.get("seconds", seconds)), params)


def read_jobs(source: Path, defaults: Mapping[str, Any], seconds: str, options: Mapping[str, click.Parameter],
              ctx: click.Context) -> list[BatchJob]:
    """The jobs in `source` (a folder of .txt scripts or a JSONL file); a ValueError one-liner for input that is not jobs."""
    # `defaults` are the command's generation options (and `seconds` its --seconds for text jobs): a line overrides
    # them, its values read by the command's own `options` so that they are checked as on the command line.
    defaults = _absolute_paths(defaults)
    if not source.exists():
        raise ValueError(f"JOBS {source} does not exist; give a folder of .txt scripts or a .jsonl file with one job a line")
    if source.is_dir():
        scripts = sorted(path for path in source.iterdir() if path.suffix == ".txt" and path.is_file())
        if not scripts:
            raise ValueError(f"JOBS folder {source} has no .txt scripts; put scripts (lines `TEXT | 6s`) there, or give a .jsonl file")
        jobs = [_job(_check_id(path.stem, str(path)), str(path), path.absolute(), None, "", defaults) for path in scripts]
    else:
        try:
            lines = source.read_text(encoding="utf-8-sig").splitlines()
        except (UnicodeDecodeError, OSError) as error:
            raise ValueError(f"JOBS {source} cannot be read as UTF-8 text ({error}); give a .jsonl file or a folder of scripts") from None
        jobs = [_line_job(number, line, source, defaults, seconds, options, ctx)
                for number, line in enumerate(lines, start=1) if line.strip()]
        if not jobs:
            raise ValueError(f"JOBS {source} has no jobs; write one JSON object a line, e.g. {{\"text\": \"a person walks\"}}")
    seen: dict[str, str] = {}
    for job in jobs:
        if job.id in seen:
            raise ValueError(f"{job.where}: job id {job.id!r} is also the id of {seen[job.id]}; give each job its own \"id\"")
        seen[job.id] = job.where
    return jobs
