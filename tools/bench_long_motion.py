"""Long-motion benchmark: every script x seed x strategy generated, scored by the evaluator, beside real corpus motion.

Rows: each strategy (generate_motion with the embedded model), and "real corpus": for every script, real corpus
clips of the segments' actions and parameters (one fresh body per script) joined end to end, each turned and moved to start where
the previous one ended. Its per-segment numbers are what a perfect generator would score; its transitions are hard
cuts between independent clips, so its jerk columns show an unsmoothed cut, not a target. FID is against a separate
draw of real clips of the same segments; Area Under Jerk's reference is those clips' mean per-frame jerk.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
import sys
from pathlib import Path
from typing import Any

import click
import matplotlib
import numpy as np
import torch
from tqdm import tqdm

from syncmotion.backends.embedded import unsnapped
from syncmotion.files import write_atomically
from syncmotion.pipelines.long_motion import DEFAULT_OVERLAP, MOTION_STRATEGIES
from syncmotion.motion.script import ALIGNMENTS
from syncmotion.engine.windows import STITCH_MODES
from syncmotion_lab.benchdoc import BENCHMARKS_MD, markdown_table, write_section
from syncmotion_lab.eval import Evaluator, load_evaluator
from syncmotion_lab.eval.benchrun import generated_motions
from syncmotion_lab.corpus.performance import perform
from syncmotion_lab.eval.benchset import (REAL_SEED, REFERENCE_SEED, as_clip, bench_folder, join_end_to_end, load_index, load_scripts,
                                          long_bench_folder, real_clip)
from syncmotion_lab.eval.metrics import TRANSITION_FRAMES
from syncmotion_lab.eval.scoring import LongMotion, Reference, make_reference, per_action, score_long_motions

matplotlib.use("Agg")  # no display: draw to files only, before pyplot is imported
import matplotlib.pyplot as plt  # noqa: E402

DEFAULT_STRATEGIES = ("independent", "multidiffusion", "synctweedies", "doubletake", "syncsde:2", "syncsde:5", "syncsde:10",
                      "syncsde:5:paste", "syncsde:5:rawtext", "syncsde:5:g7.5", "syncsde:5:smooth5", "syncsde:5:notaper:smooth5",
                      "independent::smooth5")
METRICS = ("top1", "top3", "fid", "diversity", "foot_skate", "peak_jerk", "auj", "skate_seam", "skate_away", "skate_walking",
           "skate_running", "mean_speed", "steady_cv", "slowest", "top1_short", "top1_mid", "top1_long")
PLOT = Path(__file__).resolve().parent.parent / "docs" / "img" / "seam_jerk.png"
LONG_PLOT = PLOT.with_name("seam_jerk_long.png")
# Row modifiers that pick the solver (engine/schedulers.py), followed by the number of steps.
SOLVER_MODIFIERS = {"ddim": "ddim", "dpm": "dpmsolver++", "unipc": "unipc", "model": "model"}
PRECISION_MODIFIERS = {"fp32": "float32", "bf16": "bfloat16"}
# Where the real row's would-be seams fall when no model is loaded (--real-only): the embedded model's window.
WINDOW = 80


def parse_strategy(spec: str) -> tuple[str, float, dict[str, Any]]:
    """'syncsde:5' -> ('syncsde', 5.0, {}); further ':' parts override settings for that row: a stitch mode
    ('syncsde:5:paste'), 'smoothN' (Savitzky-Golay length N), 'gN' (guidance N), 'rawtext' (the prompt's own
    embedding, no snapping), 'notaper' (SyncSDE's binary mask instead of the tapered one), 'footlock' / 'nolock' (feet
    held while they rest, or not), 'fp32' / 'bf16' (the network in float32 or bfloat16), 'ovN' (windows overlapping
    by N frames instead of --overlap), a solver and its steps
    spaced linearly from T-1 to 0 ('dpm20': DPM-Solver++ with 20 steps, 'unipc20', 'ddim20'), or the model's own
    scheduler and its steps ('model50')."""
    name, _, rest = spec.partition(":")
    value, *modifiers = rest.split(":") if rest else [""]
    overrides: dict[str, Any] = {}
    for modifier in modifiers:
        if modifier in STITCH_MODES:
            overrides["stitch"] = modifier
        elif modifier.startswith("smooth") and modifier[len("smooth"):].isdigit():
            overrides["smooth"] = int(modifier[len("smooth"):])
        elif modifier.startswith("g") and _is_number(modifier[1:]):
            overrides["guidance"] = float(modifier[1:])
        elif modifier == "rawtext":
            overrides["raw_text"] = True
        elif modifier == "notaper":
            overrides["taper"] = False
        elif modifier in ("footlock", "nolock"):
            overrides["foot_lock"] = modifier == "footlock"
        elif modifier.startswith("ov") and modifier[len("ov"):].isdigit():
            overrides["overlap"] = int(modifier[len("ov"):])
        elif modifier in PRECISION_MODIFIERS:
            overrides["precision"] = PRECISION_MODIFIERS[modifier]
        elif _solver_steps(modifier) is not None:
            overrides["scheduler"], overrides["steps"] = _solver_steps(modifier)
        else:
            raise click.UsageError(f"strategy {spec!r}: {modifier!r} is none of {', '.join(STITCH_MODES)}, smoothN, gN, "
                                   f"rawtext, notaper, footlock, nolock, fp32, bf16, ovN, or a solver with its steps "
                                   f"({', '.join(SOLVER_MODIFIERS)} then N, e.g. dpm20)")
    try:
        return name, float(value) if value else 5.0, overrides
    except ValueError:
        raise click.UsageError(f"strategy {spec!r}: 1/λ must be a number, as in syncsde:5") from None


def _solver_steps(modifier: str) -> tuple[str, int] | None:
    """'dpm20' -> ('dpmsolver++', 20): a row sampled by another solver with that many steps; None if not one."""
    for prefix, name in SOLVER_MODIFIERS.items():
        count = modifier[len(prefix):]
        if modifier.startswith(prefix) and count.isdigit() and int(count) > 0:
            return name, int(count)
    return None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def reference_set(evaluator: Evaluator, scripts: list, draws: int) -> Reference:
    """Real clips of every segment (`draws` fresh draws each): the FID and jerk reference."""
    clips = [real_clip(as_clip(segment), REFERENCE_SEED + draw, number)
             for draw in range(draws) for number, (_, _, segments) in enumerate(scripts) for segment in segments]
    return make_reference(evaluator, clips)


def real_motions(scripts: list, seed: int, long_segments: bool, window: int, overlap: int) -> list[LongMotion]:
    """For every script, real motion of its segments (draw `seed`): clips joined end to end, or for long segments a
    corpus performance of the script (gaits that keep going, repetitive actions held as long as asked). Its seams are
    where windows of `window` frames overlapping by `overlap` would meet, so near-seam and away numbers compare."""
    motions = []
    for number, (_, _, segments) in enumerate(scripts):
        if long_segments:
            performance = perform(segments, np.random.default_rng([REAL_SEED + seed, number]))
            positions, ranges = performance.positions, [(s.start, s.end) for s in performance.segments]
        else:
            clips = [real_clip(segment, REAL_SEED + seed, number) for segment in segments]
            ends = np.cumsum([len(c) for c in clips])
            positions, ranges = join_end_to_end(clips), list(zip([0, *ends[:-1]], ends))
        seams = list(range(window - overlap // 2, len(positions), window - overlap))
        motions.append(LongMotion(positions, ranges, [s["action"] for s in segments], seams))
    return motions


def _summary(per_seed: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    return {k: {"mean": float(np.mean([s[k] for s in per_seed])), "std": float(np.std([s[k] for s in per_seed]))}
            for k in per_seed[0]}


def run_benchmark(scripts: list, evaluator: Evaluator, backend: Any | None, strategies: list[str], seeds: int,
                  options: dict[str, Any], progress: bool = True, long_segments: bool = False) -> dict[str, Any]:
    """Score the real-corpus row and every strategy over `seeds` samples of all scripts; rows, curves and settings."""
    reference = reference_set(evaluator, scripts, max(3, seeds))
    rows: dict[str, Any] = {}
    per_seed, curves, predictions = [], [], []
    window = backend.window if backend is not None else WINDOW
    for seed in range(seeds):
        scores, curve, made = score_long_motions(evaluator, real_motions(scripts, seed, long_segments, window,
                                                                         options["overlap"]), reference)
        per_seed.append(scores)
        curves.append(curve)
        predictions += made
    real = "real corpus performances" if long_segments else "real corpus"
    rows[real] = {"metrics": _summary(per_seed), "curve": np.mean(curves, 0).tolist(), "per_action": per_action(predictions)}
    specs = strategies if backend is not None else []
    bar = tqdm(total=len(specs) * len(scripts), desc="generate", unit="script", disable=not progress)
    for spec in specs:
        bar.set_postfix(strategy=spec)
        name, inv_lambda, overrides = parse_strategy(spec)
        row_backend = unsnapped(backend) if overrides.pop("raw_text", False) else backend
        if "precision" in overrides:
            row_backend = dataclasses.replace(row_backend, precision=overrides.pop("precision"))
        row_options = {**options, **overrides}
        samples, wall, calls, evaluations, seconds = generated_motions(scripts, row_backend, name, inv_lambda, seeds, row_options, bar)
        scored = [score_long_motions(evaluator, motions, reference) for motions in samples]
        rows[spec] = {"metrics": _summary([scores for scores, _, _ in scored]),
                      "curve": np.mean([curve for _, curve, _ in scored], 0).tolist(),
                      "wall_per_second": wall / seconds, "calls_per_second": calls / seconds,
                      "evaluations_per_second": evaluations / seconds,
                      "per_action": per_action([made for _, _, predictions in scored for made in predictions])}
    bar.close()
    return {"rows": rows, "reference_jerk": reference.jerk, "scripts": [s[0] for s in scripts], "seeds": seeds,
            "options": options, "evaluator": evaluator.info, "long": long_segments}


def per_action_table(row: dict[str, Any]) -> str:
    """A row's segment top-1 per asked action (all seeds together), worst first, with the actions made instead."""
    ranked = sorted(row["per_action"].items(), key=lambda item: (item[1]["top1"], item[0]))
    return markdown_table(["action", "segment top-1", "segments", "made instead (segments)"],
                          [[action, f"{entry['top1']:.2f}", entry["segments"],
                            ", ".join(f"{made} {count}" for made, count in list(entry["made_instead"].items())[:3])]
                           for action, entry in ranked])


def _cell(row: dict[str, Any], key: str, digits: int) -> str:
    value = row["metrics"].get(key)  # None: a result saved before the metric existed
    if value is None or not np.isfinite(value["mean"]):
        return "—"
    return f"{value['mean']:.{digits}f} ± {value['std']:.{digits}f}"


def long_table(result: dict[str, Any]) -> str:
    """The markdown table of what users see in long motions: accuracy by segment length, foot skating near window
    seams, away from them and at a walking or running pace, the mean root speed, and the steadiness of walks and runs."""
    headers = ["strategy", "top-1, segments < 70 frames", "70-139", "140+", "foot skate near seams ↓", "away from seams ↓",
               "skate at 0.6-1.6 m/s ↓", "above 1.6 m/s ↓", "mean root speed m/s", "pace CV of walks/runs ↓",
               "slowest 2 s / median ↑"]
    return markdown_table(headers, [[name, _cell(row, "top1_short", 3), _cell(row, "top1_mid", 3), _cell(row, "top1_long", 3),
                                     _cell(row, "skate_seam", 3), _cell(row, "skate_away", 3), _cell(row, "skate_walking", 3),
                                     _cell(row, "skate_running", 3), _cell(row, "mean_speed", 2), _cell(row, "steady_cv", 3),
                                     _cell(row, "slowest", 2)]
                                    for name, row in result["rows"].items()])


def table(result: dict[str, Any]) -> str:
    """The markdown table of a benchmark result."""
    headers = ["strategy", "top-1 ↑", "top-3 ↑", "FID ↓", "diversity →", "foot skate ↓", "Peak Jerk ↓", "AUJ ↓",
               "wall s / motion s", "model calls / motion s", "window evals / motion s"]
    rows = []
    for name, row in result["rows"].items():
        rows.append([name, _cell(row, "top1", 3), _cell(row, "top3", 3), _cell(row, "fid", 2), _cell(row, "diversity", 2),
                     _cell(row, "foot_skate", 3), _cell(row, "peak_jerk", 3), _cell(row, "auj", 2),
                     f"{row['wall_per_second']:.3f}" if "wall_per_second" in row else "—",
                     f"{row['calls_per_second']:.2f}" if "calls_per_second" in row else "—",
                     f"{row['evaluations_per_second']:.2f}" if "evaluations_per_second" in row else "—"])
    return markdown_table(headers, rows)


def plot_curves(result: dict[str, Any], path: Path) -> None:
    """Mean jerk around segment transitions per row, with the real clips' mean jerk, to `path` (png)."""
    figure, axes = plt.subplots(figsize=(7, 4))
    for number, (name, row) in enumerate(result["rows"].items()):
        curve = np.asarray(row["curve"])
        if not np.isfinite(curve).all():
            continue
        # Value i is the third difference over frames i..i+3 of the window; centre it on those frames.
        offsets = np.arange(len(curve)) + 1.5 - TRANSITION_FRAMES // 2
        # tab20 so that up to 20 rows keep distinct colours (the default cycle repeats after 10).
        axes.plot(offsets, curve, label=name, linestyle="--" if name == "real corpus" else "-",
                  color=plt.get_cmap("tab20")(number % 20))
    axes.axhline(result["reference_jerk"], color="grey", linewidth=0.8, label="real clips, mean jerk")
    axes.axvline(0, color="black", linewidth=0.5)
    axes.set_xlabel("frame relative to the segment transition (20 fps)")
    axes.set_ylabel("jerk: max over joints of |Δ³x|₁ (m / frame³)")
    axes.set_title("Jerk around transitions, averaged over scripts and seeds")
    axes.legend(fontsize=7)
    figure.tight_layout()
    write_atomically(path, lambda temporary: figure.savefig(temporary, dpi=120))
    plt.close(figure)


def document(result: dict[str, Any], command: str, device: str, title: str | None = None) -> str:
    """The docs/benchmarks.md section of a result: under `title` a side study (no plot), else the benchmark's own."""
    options = result["options"]
    only_real = len(result["rows"]) == 1
    long_segments = result.get("long", False)
    side_study = title is not None
    title = title or ("Long segments: actions held 10-60 s, every strategy beside corpus performances" if long_segments
                      else "Long motions: strategies on the embedded model, scored by the evaluator")
    return "\n".join([
        f"## {title}",
        "",
        *(["Real-corpus row only so far: run the command without --real-only once the embedded model is shipped.", ""]
          if only_real else []),
        f"`{command}` ({device}; {len(result['scripts'])} scripts of sequences/{'bench_long' if long_segments else 'bench'}/ "
        f"x {result['seeds']} seeds; "
        f"steps {options.get('steps') or 'model default'}, overlap {options['overlap']} (`ovN` rows: N), "
        f"guidance {options['guidance'] or 'model default'}, "
        f"stitch {options.get('stitch', 'crossfade')} unless the row says otherwise, "
        f"windows aligned to {options.get('align', 'segments')}, smoothing {options.get('smooth', 0) or 'none'}). "
        "Seeds are the samples of one batched generate_motion call per script (seed = the script's @seed); "
        "mean ± std over them. Accuracy: the evaluator's top-1/top-3 action of each segment (cut by its frame range) "
        "against the action its held-out text came from. FID and diversity in the evaluator's 64-dim features, FID "
        "against a separate draw of real clips of the same segments. Foot skate: fraction of frame steps where a foot "
        "joint (ankle or toe) below 5 cm at both frames slides faster than 0.5 m/s (real motion scores a few percent: "
        "toes lifting off and landing). Peak Jerk and AUJ: FlowMDM's definitions over 60-frame windows "
        f"centred on segment transitions (AUJ reference: real clips' mean jerk {result['reference_jerk']:.4f} m/frame³). "
        "Real corpus: real clips of the same actions and parameters joined end to end (hard cuts, so its jerk columns "
        "show a cut, not a target). Wall time is per sample (a batch's time shared among its samples); model calls: "
        "network calls as the engine counts them for one sample; window evals: steps x windows (each evaluation runs "
        "the conditional and unconditional branch). `doubletake`: PriorMDM's DoubleTake on the same windows: a first "
        "take whose overlaps (handshakes) are blended linearly after every step, then each handshake regenerated without "
        "text from 90% of the schedule, held to the first take by PriorMDM's soft mask (ramps of 10 frames). "
        "Prompts are snapped to the model's training wordings (as "
        "`syncmotion motion` does) unless the row says `rawtext`; `smooth5` rows apply the CLI's default smoothing. "
        "SyncSDE's pull toward the previous window fades out across each overlap (the CLI's default, `--taper`) "
        "unless the row says `notaper` (the paper's binary mask).",
        *(["Long segments: scripts of sequences/bench_long (8 single actions of 20-60 s, mostly walks and runs, then 4 "
           "mixes of 10-30 s segments of gaits and repetitive actions); the real row is a corpus performance of each "
           "script (syncmotion_lab.corpus.performance.perform: its walks and runs as one take that changes pace "
           "gradually, repetitive actions held as long as asked)."] if long_segments else []),
        "",
        table(result),
        "",
        "What users see in long motions: segment top-1 by segment length; foot skating (as above) over the frame steps "
        "within 5 frames of a window seam (the middle of an overlap) and over all others (for real rows, where 80-frame "
        "windows would meet), and over the frame steps where the root moves at 0.6-1.6 m/s (walking) or faster than "
        "1.6 m/s (running; root speed averaged over 0.5 s): real feet slide more the faster the body goes, so these "
        "compare feet at the same pace; the mean root speed over all frames; "
        "pace of walk and run segments: root speed averaged over 2 s stretches (2 s left out at each "
        "end of a segment), its coefficient of variation (mean over segments) and the slowest stretch over the median "
        "one (worst segment of a seed). — where a row has nothing to measure.",
        "",
        long_table(result),
        *(["", f"![jerk around transitions](img/{(LONG_PLOT if long_segments else PLOT).name})"] if not side_study else []),
    ])


@click.command()
@click.option("--scripts", "num_scripts", type=click.IntRange(min=1), default=None, help="Use the first N scripts (default all).")
@click.option("--seeds", type=click.IntRange(min=1), default=3, show_default=True,
              help="Samples per script (one batch, seeded by the script's @seed); metrics are mean ± std over them.")
@click.option("--strategies", default=",".join(DEFAULT_STRATEGIES), show_default=True,
              help="Comma-separated; syncsde:K sets 1/λ = K.")
@click.option("--real-only", is_flag=True, help="Only the real-corpus row (no model needed).")
@click.option("--model", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Embedded model file (default: the shipped one).")
@click.option("--evaluator", "evaluator_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Evaluator .safetensors (default: the shipped one).")
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Denoising steps (default: the model's).")
@click.option("--overlap", type=click.IntRange(min=0), default=DEFAULT_OVERLAP, show_default=True)
@click.option("--guidance", type=float, default=None, help="Guidance scale (default: the model's).")
@click.option("--stitch", type=click.Choice(STITCH_MODES), default="crossfade", show_default=True,
              help="How overlapping windows become the canvas.")
@click.option("--align", type=click.Choice(ALIGNMENTS), default="segments", show_default=True,
              help="Windows aligned to segments or evenly spaced (see syncmotion.motion.script).")
@click.option("--smooth", type=click.IntRange(min=0), default=0, show_default=True,
              help="Savitzky-Golay filter length on generated positions (0: raw model output, as in the table).")
@click.option("--device", default="cpu", show_default=True)
@click.option("--bench", "folder", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Folder of scripts with index.json (default: sequences/bench).")
@click.option("--long", "long_segments", is_flag=True,
              help="The long-segment scripts (sequences/bench_long: actions held 10-60 s), beside corpus performances.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Also write the results as JSON.")
@click.option("--per-action", "per_action_rows", default="syncsde:5", show_default=True,
              help="Comma-separated rows whose per-action segment accuracy is printed (it is in --json for every row).")
@click.option("--doc/--no-doc", default=True, show_default=True, help="Write the docs/benchmarks.md section and docs/img/seam_jerk.png.")
@click.option("--section", default=None,
              help="Write the table to this docs/benchmarks.md section, titled --title, and draw no plot (a side study "
                   "that must not replace the benchmark's own section).")
@click.option("--title", default=None, help="The heading of --section.")
@click.option("--from-json", "saved", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Document a result saved by --json instead of generating (the command recorded is the one that made it).")
def main(num_scripts: int | None, seeds: int, strategies: str, real_only: bool, model: Path | None, evaluator_path: Path | None,
         steps: int | None, overlap: int, guidance: float | None, stitch: str, align: str, smooth: int, device: str,
         folder: Path | None, long_segments: bool, json_path: Path | None,
         per_action_rows: str, doc: bool, section: str | None, title: str | None, saved: Path | None) -> None:
    """Generate every benchmark script with every strategy and seed; print and record the metrics table."""
    specs = [s.strip() for s in strategies.split(",") if s.strip()]
    for spec in specs:
        name, _, _ = parse_strategy(spec)
        if name not in MOTION_STRATEGIES:
            raise click.UsageError(f"unknown strategy {name!r}; choose from {', '.join(MOTION_STRATEGIES)} (syncsde[:1/λ])")
    if saved is not None:
        result = json.loads(saved.read_text())
        click.echo(table(result) + "\n\n" + long_table(result))
        write_section(section or ("bench_long_segments" if result.get("long") else "bench_long_motion"),
                      document(result, result["command"], result["device"], title))
        return
    folder = folder or (long_bench_folder() if long_segments else bench_folder())
    long_segments = bool(load_index(folder).get("long", False))
    scripts = load_scripts(folder, num_scripts)
    evaluator = load_evaluator(evaluator_path)
    backend = None
    if not real_only:
        from syncmotion.backends.embedded import load_default, load_embedded

        try:
            backend = load_embedded(model, device) if model is not None else load_default(device)
        except FileNotFoundError as error:
            raise click.UsageError(f"{error} (or run with --real-only)") from None
    options = {"steps": steps, "overlap": overlap, "guidance": guidance, "stitch": stitch, "align": align, "smooth": smooth}
    result = run_benchmark(scripts, evaluator, backend, specs, seeds, options, long_segments=long_segments)
    click.echo(table(result))
    click.echo("\n" + long_table(result))
    for name in [n.strip() for n in per_action_rows.split(",") if n.strip() in result["rows"]]:
        click.echo(f"\nper action, {name}:\n" + per_action_table(result["rows"][name]))
    result["command"] = ("python tools/bench_long_motion.py " + shlex.join(sys.argv[1:])).strip()
    result["device"] = f"CPU, {torch.get_num_threads()} threads" if device == "cpu" else device
    if backend is not None:
        result["device"] += f"; network in {backend.precision} unless the row says fp32 or bf16"
    if json_path is not None:
        write_atomically(json_path, lambda temporary: temporary.write_text(json.dumps(result, indent=1)))
    if doc:
        if section is None:
            plot = LONG_PLOT if long_segments else PLOT
            plot_curves(result, plot)
            click.echo(f"drew {plot}")
        section = section or ("bench_long_segments" if long_segments else "bench_long_motion")
        write_section(section, document(result, result["command"], result["device"], title))
        click.echo(f"wrote {BENCHMARKS_MD} (section {section})")


if __name__ == "__main__":
    main()
