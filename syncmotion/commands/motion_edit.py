"""`syncmotion motion --edit FILE --span 10s-14s`: redo one span of a finished motion; and `--key`/`--path` on scripts."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import click

from syncmotion.motion.script import Script

# Click options of `syncmotion motion` that belong to edits and constraints, added to it by the command's module.
EDIT_OPTIONS = (
    click.option("--edit", type=click.Path(dir_okay=False, path_type=Path), default=None,
                 help="Re-generate --span of this motion (syncmotion .json or a results.npy, ours or MDM's) and write "
                      "the edited motion to --out; every frame outside the span and its blend margin (--overlap frames) "
                      "stays bit-identical. With --text: the span's new text (else its own, a new take)."),
    click.option("--span", default=None, help="With --edit: the frames to redo, START-END in seconds or frames "
                                              "(10s-14s, 200f-280f)."),
    click.option("--key", "keys", multiple=True,
                 help='A pose the motion passes through: "TIME FILE[:FRAME]", e.g. --key "5s crouch.json:12" (repeatable; '
                      "as @key in a script)."),
    click.option("--path", "path", default=None,
                 help='A path the root follows: waypoints "TIME X Z, ..." in seconds and metres (--path "0s 0 0, 10s 6 0") '
                      "or a CSV file of time,x,z rows (as @path in a script)."),
)


def edit_options(command: Callable) -> Callable:
    """A decorator that gives a click command EDIT_OPTIONS, in their order."""
    for option in reversed(EDIT_OPTIONS):
        command = option(command)
    return command


def with_constraints(script: Script, keys: tuple[str, ...], path: str | None) -> Script:
    """`script` with the --key and --path options added to its constraint lines, checked at once (click errors)."""
    from syncmotion.motion.constraints import ConstraintError
    from syncmotion.pipelines.constrained_motion import script_constraints

    # Files named on the command line are relative to where the command runs, so they are made absolute here.
    lines = [("key", _absolute_key(key), "--key") for key in keys] + ([("path", _absolute_csv(path), "--path")] if path else [])
    script = dataclasses.replace(script, constraints=[*script.constraints, *lines])
    try:
        script_constraints(script)
    except ConstraintError as error:
        raise click.ClickException(str(error)) from None
    return script


def _absolute_key(argument: str) -> str:
    parts = argument.split(maxsplit=1)
    if len(parts) != 2:
        return argument
    name, colon, frame = parts[1].rpartition(":")
    if not name or not frame.isdigit():
        name, colon, frame = parts[1], "", ""
    return f"{parts[0]} {os.path.abspath(name)}{colon}{frame}"


def _absolute_csv(argument: str) -> str:
    return os.path.abspath(argument) if argument.lower().endswith(".csv") else argument


def default_edit_folder(edit: Path) -> Path:
    """Where an edit of `edit` goes without --out: out/<the input's folder name>_edit (out/demo/motion.json: out/demo_edit)."""
    return Path("out") / f"{edit.resolve().parent.name or edit.stem}_edit"


def run_edit(edit: Path, span: str | None, text: str | None, out: Path | None, params: Mapping[str, Any]) -> None:
    """Check an edit's inputs, re-generate the span of every motion in `edit`, and write them as one output set in `out`."""
    from syncmotion.files import check_output_folder, output_set
    from syncmotion.motion.constraints import ConstraintError, parse_span
    from syncmotion.motion.io import load_motion
    from syncmotion.pipelines.motion_edit import edit_motion

    from .motion import _export, check_options, check_smpl, load_backend, motion_job

    if span is None:
        raise click.UsageError("--edit needs --span START-END, e.g. --span 10s-14s")
    if text is not None and (";" in text or not text.strip()):
        raise click.UsageError("with --edit, --text is the span's one new text (no ';'), e.g. --text \"a person jumps in place\"")
    formats = check_options(params["formats"], params["smooth"])
    try:
        loaded = load_motion(edit)
    except FileNotFoundError:
        raise click.ClickException(f"--edit {edit}: no such file; give a motion written by syncmotion (.json, results.npy) "
                                   "or MDM's results.npy") from None
    except ValueError as error:
        raise click.ClickException(f"--edit: {error}") from None
    motions = loaded if isinstance(loaded, list) else [loaded]
    try:
        frames = parse_span(span, motions[0].fps, min(m.num_frames for m in motions))
    except ConstraintError as error:
        raise click.ClickException(str(error)) from None
    out = out if out is not None else default_edit_folder(edit)
    if Path(os.path.abspath(out)) == Path(os.path.abspath(edit)).parent:
        raise click.ClickException(f"--out {out} is the folder of --edit {edit}, whose files the edit would replace; "
                                   "write the edit to another folder")
    try:
        check_output_folder(out)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    check_smpl(params["smpl"])
    job = motion_job(Script([]), params)
    backend = load_backend(job.model, job.model_options)
    seconds = f"{frames[0] / motions[0].fps:g}-{frames[1] / motions[0].fps:g} s"
    click.echo(f"{backend.name}: re-generating {seconds} of {edit} ({len(motions)} motion{'s' if len(motions) > 1 else ''})"
               + (f" as '{text}'" if text is not None else ", a new take of its own text"))
    started = time.perf_counter()
    try:
        with output_set(out, {**dict(click.get_current_context().params), "edit": str(edit)}) as staging:
            edited = [edit_motion(motion, frames, backend, job.settings, text) for motion in motions]
            generated = time.perf_counter() - started
            paths = _export(edited, staging, set(formats), job.smpl)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    record = edited[0].meta["edits"][-1]
    low, high = record["sampled"]
    click.echo(f"edited in {generated:.1f} s: {record['windows']} window(s) sampled over frames {low}-{high}; frames before "
               f"{max(frames[0] - record['margin'], 0)} and from {min(frames[1] + record['margin'], motions[0].num_frames)} "
               "on are unchanged")
    for path in paths:
        click.echo(f"  {out / path.name}")
