"""`syncmotion motion`: a text script (or a few prompts) -> one long synchronized motion, exported and rendered."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from syncmotion.backends.mdm import MotionBackend
from syncmotion.backends.registry import ModelOptions, load_motion_model
from syncmotion.backends.text_prototypes import SnappedTextEncoder
from syncmotion.devices import PRECISIONS
from syncmotion.files import check_output_folder, output_set
from syncmotion.engine.strategies import LAMBDA_SCHEDULES
from syncmotion.motion.script import Script
from syncmotion.pipelines.long_motion import (
    DEFAULT_OVERLAP, MAX_SECONDS, MOTION_SCHEDULERS, MOTION_STRATEGIES, LongMotionSettings, check_length, resolve_sampling,
)

from .motion_edit import edit_options, run_edit, with_constraints
from .motion_formats import DEFAULT_FORMATS, FORMATS
from .params import DEVICE, POSITIVE, SEED

# Below this cosine similarity to every training text a prompt is unlike anything the embedded model knows
# (measured: 95% of the held-out paraphrases of its actions score above 0.49; "a person swims" scores 0.35).
UNFAMILIAR_SIMILARITY = 0.45


def _script_from_prompts(text: str, seconds: str) -> str:
    """Script text for `--text "a; b; c"` with one duration or one per prompt."""
    prompts = [p.strip() for p in text.split(";")]
    if not all(prompts):
        raise click.UsageError("--text has an empty prompt; separate prompts with ';', e.g. --text \"a person walks; a person sits\"")
    for prompt in prompts:
        for mark, role in (("#", "starts a comment"), ("|", "separates a text from its duration")):
            if mark in prompt:
                raise click.UsageError(f"--text prompt {prompt!r} contains '{mark}', which {role} in scripts; leave it out")
    durations = [d.strip() for d in seconds.split(",")]
    if len(durations) == 1:
        durations *= len(prompts)
    if len(durations) != len(prompts):
        raise click.UsageError(f"--seconds gives {len(durations)} durations for {len(prompts)} prompts; give one, or one per prompt")
    for duration in durations:
        try:
            usable = 0 < float(duration) < math.inf
        except ValueError:
            usable = False
        if not usable:
            raise click.UsageError(f"--seconds {duration!r} is not a positive number of seconds, e.g. --seconds 6 or --seconds 6,4,8")
    return "\n".join(f"{prompt} | {duration}s" for prompt, duration in zip(prompts, durations)) + "\n"


def load_backend(model: Path | None, options: ModelOptions) -> MotionBackend:
    """The model file given by --model (any registered kind), or the embedded model."""
    try:
        return load_motion_model(model, options)
    except (FileNotFoundError, ValueError) as error:
        raise click.ClickException(str(error)) from None


def _export(motions, out: Path, formats: set[str], smpl: Path | None) -> list[Path]:
    """Write every requested format of every sample into `out`; returns the paths written."""
    from syncmotion.motion.io import save_json, save_results_npy

    written = []
    if "npy" in formats:
        save_results_npy(motions, out / "results.npy")
        written.append(out / "results.npy")
    for index, motion in enumerate(motions):
        stem = out / ("motion" if len(motions) == 1 else f"motion_{index:02d}")
        if "json" in formats:
            save_json(motion, stem.with_suffix(".json"))
            written.append(stem.with_suffix(".json"))
        if "bvh" in formats:
            from syncmotion.motion.bvh import save_bvh

            save_bvh(motion, stem.with_suffix(".bvh"))
            written.append(stem.with_suffix(".bvh"))
        for gltf in ("glb", "gltf"):
            if gltf in formats:
                from syncmotion.motion.gltf import save_gltf

                written.append(save_gltf(motion, stem.with_suffix(f".{gltf}")))
        if smpl is not None:
            from syncmotion.motion.smpl import save_smpl

            written.extend(save_smpl(motion, smpl, stem.with_name(stem.name + "_smpl.npz"),
                                     amass_path=stem.with_name(stem.name + "_amass.npz")))
        videos = [stem.with_suffix(f".{video}") for video in ("mp4", "gif") if video in formats]
        if "png" in formats or videos:
            from syncmotion.render.ahead import render_filmstrip_and_videos

            written.extend(render_filmstrip_and_videos(motion, stem.with_suffix(".png") if "png" in formats else None, videos))
    return written


def _print_readings(backend: MotionBackend, texts: list[str]) -> None:
    """Say which trained wordings each prompt is read as, so a user sees why a motion follows a prompt or not."""
    if not isinstance(backend.text_encoder, SnappedTextEncoder):
        return
    for reading in backend.text_encoder.read(list(dict.fromkeys(texts))):
        wordings = ", ".join(f"'{text}' {weight:.0%}" for text, weight in reading.neighbours)
        note = "" if reading.similarity >= UNFAMILIAR_SIMILARITY else " (far from anything it knows: expect a loose match)"
        click.echo(f"  '{reading.prompt}' read as {wordings}{note}")


# The generation options of `syncmotion motion`, by parameter name, in the order --help lists them. `syncmotion batch`
# takes the same ones as every job's defaults (and a job line may override each), so both commands read them alike.
GENERATION_OPTIONS: dict[str, Callable[[Callable], Callable]] = {
    "model": click.option("--model", "--model_path", "model", type=click.Path(dir_okay=False, path_type=Path), default=None,
                          help="Official MDM checkpoint modelXXXXXXXXX.pt (args.json beside it); default: the embedded model."),
    "meta": click.option("--meta", type=click.Path(file_okay=False, path_type=Path), default=None,
                         help="Folder with HumanML3D Mean.npy and Std.npy (MDM)."),
    "clip": click.option("--clip", type=click.Path(path_type=Path), default=None,
                         help="CLIP ViT-B/32 for MDM: a transformers folder, or OpenAI's ViT-B-32.pt (.pt/.safetensors weights)."),
    "strategy": click.option("--strategy", type=click.Choice(sorted(MOTION_STRATEGIES)), default="syncsde", show_default=True,
                             help="How windows agree: syncsde (the paper's), or the baselines: independent, multidiffusion, "
                                  "synctweedies, handshake (overlaps blended every step), doubletake (handshake, then each "
                                  "transition regenerated, as PriorMDM's DoubleTake)."),
    "inv_lambda": click.option("--inv-lambda", type=POSITIVE, default=5.0, show_default=True, help="SyncSDE's 1/λ."),
    "lambda_schedule": click.option("--lambda-schedule", type=click.Choice(LAMBDA_SCHEDULES), default="linear", show_default=True,
                                    help="SyncSDE: 1/λ falls linearly with t (the paper's) or stays constant."),
    "steps": click.option("--steps", type=click.IntRange(min=1), default=None,
                          help="Sampling steps (default: 30 for the embedded model, 50 with --scheduler model and for MDM)."),
    "scheduler": click.option("--scheduler", type=click.Choice(MOTION_SCHEDULERS), default=None,
                              help="Solver: model (the model's own DDIM), or ddim, dpmsolver++, unipc with steps from pure "
                                   "noise (t = T-1) (default: ddim for the embedded model, whose long walks stop and go "
                                   "with its own; model for MDM and for timelines). dpmsolver++ --steps 20 makes fewer model calls but "
                                   "feet skate more (models/EMBEDDED.md)."),
    "overlap": click.option("--overlap", type=click.IntRange(min=0), default=DEFAULT_OVERLAP, show_default=True,
                            help="Frames shared by neighbouring windows."),
    "seed": click.option("--seed", type=SEED, default=None, help="Random seed (default: the script's @seed, else 0)."),
    "guidance": click.option("--guidance", "--guidance_param", "guidance", type=POSITIVE, default=None,
                             help="Classifier-free guidance scale (default: the model's; 2.5 for MDM checkpoints as MDM uses, "
                                  "the embedded model's own otherwise)."),
    "num_samples": click.option("--num-samples", "--num_samples", "num_samples", type=click.IntRange(min=1), default=1,
                                show_default=True),
    "stitch": click.option("--stitch", type=click.Choice(["paste", "crossfade", "mean"]), default="crossfade", show_default=True,
                           help="How overlapping windows become one motion: crossfade blends each overlap (smooth seams); "
                                "paste lays windows in order as the SyncSDE paper's code does."),
    "align": click.option("--align", type=click.Choice(["segments", "even"]), default="segments", show_default=True,
                          help="Windows: each segment tiled by its own windows (segments), or equal windows over the whole "
                               "motion, each following the segment it mostly covers (even)."),
    "taper": click.option("--taper/--no-taper", default=True, show_default=True,
                          help="SyncSDE: fade each window's pull toward the previous one out across their overlap (no kink "
                               "where the overlap ends); --no-taper: the paper's all-or-nothing mask."),
    "smooth": click.option("--smooth", type=click.IntRange(min=0), default=5, show_default=True,
                           help="Savitzky-Golay filter over this many frames on the joint positions, against the model's "
                                "frame-to-frame tremor (odd; 0: raw model output)."),
    "foot_lock": click.option("--foot-lock/--no-foot-lock", default=True, show_default=True,
                              help="Hold each foot still while it rests on the floor, knees bent to reach, then smooth: "
                                   "a third to a half less foot skating (models/EMBEDDED.md); not applied to @loop or --edit."),
    "formats": click.option("--formats", default=DEFAULT_FORMATS, show_default=True, help=f"What to write, from {','.join(FORMATS)}."),
    "smpl": click.option("--smpl", type=click.Path(exists=True, path_type=Path), default=None,
                         help="SMPL body model file or folder (pip install syncmotion[smpl]): also write SMPL parameters "
                              "(*_smpl.npz) and the same fit AMASS-style (*_amass.npz)."),
    "snap_text": click.option("--snap-text/--no-snap-text", default=True, show_default=True,
                              help="Embedded model: read each prompt as the nearest wordings it was trained on (printed); "
                                   "off: use the prompt's own sentence embedding. MDM checkpoints always use their own."),
    "max_seconds": click.option("--max-seconds", type=POSITIVE, default=MAX_SECONDS, show_default=True,
                                help="Refuse to make more motion than this (seconds, all samples together); the refusal says "
                                     "how long and how much memory the run would take."),
    "device": click.option("--device", type=DEVICE, default="auto", show_default=True,
                           help="torch device: cpu, cuda, cuda:1, mps, or auto (cuda when there is one, else cpu)."),
    "precision": click.option("--precision", type=click.Choice(PRECISIONS), default="auto", show_default=True,
                              help="How the network computes: auto is bfloat16 for the embedded model on CPUs with "
                                   "bfloat16 instructions (twice as fast, same quality: models/EMBEDDED.md), else float32."),
}


def generation_options(skip: Collection[str] = ()) -> Callable[[Callable], Callable]:
    """A decorator that gives a click command GENERATION_OPTIONS (those not in `skip`), in their order."""
    def decorate(command: Callable) -> Callable:
        for name, option in reversed(GENERATION_OPTIONS.items()):
            if name not in skip:
                command = option(command)
        return command
    return decorate


@dataclass(frozen=True)
class MotionJob:
    """One motion to make, checked: its script, how to sample it, the model it needs and the files to write."""

    script: Script
    settings: LongMotionSettings
    formats: frozenset[str]
    model: Path | None
    model_options: ModelOptions
    smpl: Path | None = None
    max_seconds: float = MAX_SECONDS

    def check_length(self, backend: MotionBackend) -> None:
        """A click error, with the time and memory it would take, when the job asks for more than its --max-seconds."""
        try:
            _, steps = resolve_sampling(self.settings, backend, self.script)
            check_length(self.script, self.settings.num_samples, self.max_seconds, backend, steps, self.settings.overlap)
        except ValueError as error:
            raise click.ClickException(str(error)) from None


def check_options(formats: str, smooth: int) -> frozenset[str]:
    """The formats asked for; a usage error for an unknown format or an unusable --smooth."""
    from syncmotion.motion.smooth import check_smoothing

    wanted = frozenset(f.strip() for f in formats.split(",") if f.strip())
    if not wanted or wanted - set(FORMATS):
        raise click.UsageError(f"--formats {formats!r}: choose from {','.join(FORMATS)}")
    try:
        check_smoothing(smooth)
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    return wanted


def read_script(script: Path | None, text: str | None, seconds: str) -> tuple[Script, str]:
    """The script a run follows (from the SCRIPT file or --text prompts) and its name; click errors say what is wrong."""
    from syncmotion.motion.script import ScriptError, parse_script

    if (script is None) == (text is None):
        raise click.UsageError("give a SCRIPT file or --text \"prompt; prompt\" (exactly one of them)")
    try:
        if script is not None:
            if not script.exists():
                raise click.UsageError(f"script {script} does not exist; see sequences/demo.txt for an example")
            return parse_script(script), script.stem
        # Messages about the whole script (its length) name what the user typed, not an unnamed script.
        return dataclasses.replace(parse_script(_script_from_prompts(text or "", seconds)), source="--text"), "prompts"
    except ScriptError as error:
        raise click.ClickException(str(error)) from None


def motion_job(script: Script, params: Mapping[str, Any]) -> MotionJob:
    """The job that the generation options `params` (GENERATION_OPTIONS' values by name) ask of `script`."""
    settings = LongMotionSettings.named(
        params["strategy"], {"inv_lambda": params["inv_lambda"], "schedule": params["lambda_schedule"]}, steps=params["steps"],
        overlap=params["overlap"], guidance=params["guidance"], seed=params["seed"], num_samples=params["num_samples"],
        stitch=params["stitch"], align=params["align"], taper=params["taper"], smooth=params["smooth"],
        scheduler=params["scheduler"], foot_lock=params["foot_lock"])
    model_options = ModelOptions(params["device"], params["meta"], params["clip"], params["snap_text"], params["precision"])
    return MotionJob(script, settings, check_options(params["formats"], params["smooth"]), params["model"], model_options,
                     params["smpl"], params["max_seconds"])


def make_motion(job: MotionJob, backend: MotionBackend, folder: Path, progress: bool = True) -> tuple[list[Path], float]:
    """Generate `job` with `backend` and write its files into `folder`; returns the paths written and the seconds generating took."""
    from syncmotion.pipelines.constrained_motion import generate_constrained

    started = time.perf_counter()
    try:
        motions = generate_constrained(job.script, backend, job.settings, progress=progress)
        generated = time.perf_counter() - started
        return _export(motions, folder, set(job.formats), job.smpl), generated
    except (ImportError, FileNotFoundError, ValueError) as error:
        raise click.ClickException(str(error)) from None


def check_smpl(smpl: Path | None) -> None:
    """A click error when the SMPL body model `smpl` cannot be used (checked before minutes of generation, not after)."""
    if smpl is None:
        return
    from syncmotion.motion.smpl import load_smpl

    try:
        load_smpl(smpl)
    except (ImportError, FileNotFoundError, ValueError) as error:
        raise click.ClickException(str(error)) from None


@click.command()
@click.argument("script", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--text", "--text_prompt", "text", default=None, help='Prompts separated by ";" instead of a script file.')
@click.option("--seconds", "--motion_length", "seconds", default="6", show_default=True,
              help="With --text: seconds per prompt, one number or one per prompt (6,4,8).")
@click.option("--out", "--output_dir", "out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder; default: out/<script name>.")
@generation_options()
@edit_options
def motion(script: Path | None, text: str | None, seconds: str, out: Path | None, edit: Path | None, span: str | None,
           keys: tuple[str, ...], path: str | None, **params: Any) -> None:
    """Generate one long motion from SCRIPT (lines `TEXT | 6s`) or from --text, and write it to --out."""
    if edit is not None or span is not None:
        if edit is None or script is not None or keys or path:
            raise click.UsageError("--edit FILE --span START-END redoes a span of FILE: give no SCRIPT, --key or --path with it")
        return run_edit(edit, span, text, out, params)
    check_options(params["formats"], params["smooth"])
    parsed, name = read_script(script, text, seconds)
    parsed = with_constraints(parsed, keys, path)
    out = out if out is not None else Path("out") / name
    try:  # an unusable --out should stop us before minutes of generation, not after
        check_output_folder(out)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    check_smpl(params["smpl"])
    job = motion_job(parsed, params)
    backend = load_backend(job.model, job.model_options)
    job.check_length(backend)
    strategy, guidance = params["strategy"], params["guidance"]
    click.echo(f"{backend.name}: {parsed.num_frames / parsed.fps:.1f} s in {len(parsed.segments)} segments, "
               f"strategy {strategy}" + (f" 1/λ={params['inv_lambda']:g}" if strategy == "syncsde" else "")
               + f", guidance {guidance if guidance is not None else backend.default_guidance:g}")
    _print_readings(backend, [segment.text for segment in parsed.segments])
    started = time.perf_counter()
    try:
        # The run's files land in --out together, or not at all; a second run into the same --out is refused at once.
        with output_set(out, dict(click.get_current_context().params)) as staging:
            paths, generated = make_motion(job, backend, staging)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    written = [out / path.name for path in paths]
    click.echo(f"generated in {generated:.1f} s, exported in {time.perf_counter() - started - generated:.1f} s")
    for path in written:
        click.echo(f"  {path}")
    if any(path.suffix in (".json", ".glb", ".gltf") for path in written):
        click.echo(f"watch it in the browser: syncmotion view {out}")
