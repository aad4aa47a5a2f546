"""Score every synchronization strategy against the exact answer of a Gaussian-process oracle, in 1D and in 2D.

Windows are drawn from a stationary Gaussian process (squared-exponential kernel); the true long sequence (or
wide field) is the same process on the whole canvas, so the empirical covariance of many samples can be compared
with the truth, across seams and everywhere. The 1D section lays windows over frames; the 2D section lays square
windows side by side over a wide field at two strides, with vertical seams. Usage:

    python tools/bench_oracle.py [--samples 4000] [--samples-2d 2000] [--json] [--write/--no-write]
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import click
import matplotlib
import torch
from diffusers import DDIMScheduler

from syncmotion.engine import CropLayout, PrecisionTweedies, Strategy, SyncSDE, make_strategy, sample
from syncmotion.engine.windows import spatial_windows, temporal_windows
from syncmotion_lab.benchdoc import markdown_table, write_section
from syncmotion_lab.oracle import GaussianOracle, score_samples, squared_exponential

matplotlib.use("Agg")  # no display: draw to files only, before pyplot is imported
import matplotlib.pyplot as plt  # noqa: E402

PLOT = Path(__file__).resolve().parent.parent / "docs" / "img" / "oracle_variance.png"
FLOORS = ("exact draws (estimation floor)", "one window over the canvas (DDIM floor)")
# Rows the 1.2x target is checked on, and the metrics it covers.
TARGET = 1.2
METRICS = ("seam_cov_error", "cov_error", "var_error", "max_var_error", "seam_step_error")


@dataclass(frozen=True)
class Row:
    """One strategy configuration of a table."""

    label: str
    strategy: Strategy
    stitch: str = "paste"
    taper: bool = False


@dataclass
class Section:
    """One oracle setup: its windows, the window and whole-canvas oracles, and where its seams are."""

    name: str
    layout: CropLayout
    oracle: GaussianOracle
    whole: GaussianOracle
    seams: list[int]
    reach: int
    stride: int


def configurations(one_dimensional: bool) -> list[Row]:
    """The rows of a section: every registered strategy, SyncSDE's settings, and the 1D-only sweeps."""
    rows = [Row("independent", make_strategy("independent")), Row("multidiffusion", make_strategy("multidiffusion")),
            Row("handshake", make_strategy("handshake")), Row("synctweedies", make_strategy("synctweedies"))]
    if one_dimensional:
        rows += [Row(f"syncsde 1/λ={v:g}", SyncSDE(v)) for v in (1, 2, 5, 10)]
        rows += [Row("syncsde 1/λ=5 constant λ", SyncSDE(5, "constant"))]
    else:
        rows += [Row("syncsde 1/λ=5", SyncSDE(5))]
    rows += [Row("syncsde 1/λ=5 crossfade", SyncSDE(5), "crossfade")]
    if one_dimensional:
        # The long-motion default: a tapered mask and a cross-faded result.
        rows += [Row("syncsde 1/λ=5 taper crossfade", SyncSDE(5), "crossfade", taper=True),
                 Row("precisiontweedies power=1", PrecisionTweedies(1))]
    return rows + [Row("precisiontweedies", PrecisionTweedies())]


def scheduler() -> DDIMScheduler:
    """Stable Diffusion's DDIM schedule."""
    return DDIMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, clip_sample=False,
                         timestep_spacing="trailing")


def one_window(canvas_dims: tuple[int, ...]) -> CropLayout:
    """A single window covering the whole canvas (1D or 2D)."""
    if len(canvas_dims) == 2:
        return spatial_windows(*canvas_dims, canvas_dims, 1)
    return temporal_windows(canvas_dims[0], canvas_dims[0], 0)


def run_section(section: Section, rows: list[Row], samples: int, steps: int, seed: int) -> tuple[list[dict], dict]:
    """Score the floors and every row of one section; its records and per-position variances by label."""
    ddim = scheduler()
    layout = section.layout
    canvas_dims = layout.canvas_dims
    truth = section.whole.covariance()
    generator = torch.Generator().manual_seed(seed)
    exact = torch.randn(samples, truth.shape[0], generator=generator, dtype=torch.float64) @ torch.linalg.cholesky(truth).T
    start = time.perf_counter()
    whole = sample(section.whole, ddim, one_window(canvas_dims), [None], strategy="independent", steps=steps,
                   batch_size=samples, generator=torch.Generator().manual_seed(seed), progress=False)
    references = [(FLOORS[0], exact.reshape(samples, *canvas_dims), 0.0, 0),
                  (FLOORS[1], whole.canvas, time.perf_counter() - start, steps)]
    base = {"oracle": section.name, "stride": section.stride}
    records, variances = [], {}
    for label, canvas, seconds, evaluations in references:
        records.append({**base, "strategy": label, "label": label, "inv_lambda": None, "stitch": "-", "seconds": seconds,
                        "window_evaluations": evaluations, **score_samples(canvas, truth, section.seams, section.reach)})
        variances[label] = canvas.double().pow(2).mean(0)
    for row in rows:
        row_layout = temporal_windows(canvas_dims[0], layout.window_dims[0], layout.window_dims[0] - section.stride,
                                      taper=True) if row.taper else layout
        start = time.perf_counter()
        result = sample(section.oracle, ddim, row_layout, [None] * layout.num_windows, strategy=row.strategy, steps=steps,
                        batch_size=samples, generator=torch.Generator().manual_seed(seed), stitch=row.stitch,
                        progress=False)
        records.append({**base, "strategy": row.strategy.name, "label": row.label,
                        "inv_lambda": getattr(row.strategy, "inv_lambda", None), "power": getattr(row.strategy, "power", None),
                        "stitch": row.stitch, "taper": row.taper, "seconds": time.perf_counter() - start,
                        "window_evaluations": steps * layout.num_windows,
                        **score_samples(result.canvas, truth, section.seams, section.reach)})
        variances[row.label] = result.canvas.double().pow(2).mean(0)
    floor = records[1]
    for record in records:
        record["worst_ratio_to_ddim_floor"] = max(record[m] / floor[m] for m in METRICS)
    return records, variances


def table(records: list[dict]) -> str:
    """The markdown table of one section."""
    headers = ["strategy", "stitch", "seam cov error", "cov error", "var error (mean)", "var error (max)",
               "seam step error", "worst / DDIM floor", "window evals", "wall s"]
    rows = [[r["label"], r["stitch"], *(f"{r[m]:.3f}" for m in METRICS),
             "-" if r["label"] in FLOORS else f"{r['worst_ratio_to_ddim_floor']:.2f}"
             + (" ✓" if r["worst_ratio_to_ddim_floor"] <= TARGET else ""),
             r["window_evaluations"], f"{r['seconds']:.2f}"] for r in records]
    return markdown_table(headers, rows)


def plot(panels: list[tuple[str, dict, list[int]]]) -> None:
    """Per-position variance along the canvas (rows averaged in 2D), one panel per section."""
    figure, axes = plt.subplots(len(panels), 1, figsize=(9, 4 * len(panels)))
    for axis, (title, variances, seams) in zip(axes, panels):
        for label, variance in variances.items():
            if label == FLOORS[0] or "1/λ=1" in label or "1/λ=2" in label or "1/λ=10" in label or "power=1" in label:
                continue
            profile = variance.reshape(-1, variance.shape[-1]).mean(0)
            axis.plot(profile.numpy(), label=label, linewidth=2.0 if "precision" in label else 1.0)
        for seam in seams:
            axis.axvline(seam, color="grey", linestyle=":", linewidth=0.8)
        axis.axhline(1.0, color="black", linewidth=0.8)
        axis.set(xlabel="position along the last axis", ylabel="variance (truth = 1)", title=title)
        axis.legend(fontsize=7, ncol=3)
    figure.tight_layout()
    PLOT.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(PLOT, dpi=110)


@click.command()
@click.option("--samples", default=4000, show_default=True, help="Long samples drawn per 1D row (>= 1000).")
@click.option("--samples-2d", default=2000, show_default=True, help="Wide samples drawn per 2D row (>= 1000).")
@click.option("--window", default=40, show_default=True, help="1D window length in frames.")
@click.option("--overlap", default=10, show_default=True, help="1D overlap between windows in frames.")
@click.option("--windows", "num_windows", default=4, show_default=True, help="Number of 1D windows.")
@click.option("--lengthscale", default=6.0, show_default=True, help="1D kernel lengthscale in frames.")
@click.option("--window-2d", default=24, show_default=True, help="2D square window side.")
@click.option("--strides-2d", default="16,8", show_default=True, help="2D strides between windows, comma-separated.")
@click.option("--lengthscale-2d", default=4.0, show_default=True, help="2D kernel lengthscale (both axes).")
@click.option("--steps", default=50, show_default=True, help="DDIM steps.")
@click.option("--seed", default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON record per row instead of the tables.")
@click.option("--write/--no-write", default=None,
              help="Update docs/benchmarks.md and the plot (default: yes, but not with --json).")
def main(samples: int, samples_2d: int, window: int, overlap: int, num_windows: int, lengthscale: float, window_2d: int,
         strides_2d: str, lengthscale_2d: float, steps: int, seed: int, as_json: bool, write: bool | None) -> None:
    """Print (and record) the strategy tables on the 1D and 2D Gaussian oracles."""
    if min(samples, samples_2d) < 1000:
        raise click.BadParameter("use at least 1000 samples so covariance estimates are meaningful", param_hint="--samples")
    try:
        strides = [int(s) for s in strides_2d.split(",")]
    except ValueError:
        raise click.BadParameter(f"{strides_2d!r} is not a comma-separated list of integers", param_hint="--strides-2d") from None
    if not strides or any(not 0 < s < window_2d for s in strides):
        raise click.BadParameter(f"each stride must lie between 1 and {window_2d - 1} (below the window)", param_hint="--strides-2d")
    ddim = scheduler()
    length = window + (num_windows - 1) * (window - overlap)
    layout = temporal_windows(length=length, window=window, overlap=overlap)
    one_d = Section("1d", layout, GaussianOracle(ddim, [squared_exponential(window, lengthscale)]),
                    GaussianOracle(ddim, [squared_exponential(length, lengthscale)]), layout.starts[1:], window,
                    window - overlap)
    records, variances = run_section(one_d, configurations(True), samples, steps, seed)
    sections = [(one_d, records, variances)]
    # One wide field for every stride, so the strides are compared on the same truth.
    width = window_2d + 3 * max(strides)
    rows_axis = squared_exponential(window_2d, lengthscale_2d)
    for stride in strides:
        field = spatial_windows(window_2d, width, window_2d, stride)
        two_d = Section("2d", field, GaussianOracle(ddim, [rows_axis, squared_exponential(window_2d, lengthscale_2d)]),
                        GaussianOracle(ddim, [rows_axis, squared_exponential(width, lengthscale_2d)]),
                        [left for _, left in field.starts[1:]], window_2d, stride)
        sections.append((two_d, *run_section(two_d, configurations(False), samples_2d, steps, seed)))

    if as_json:
        for _, section_records, _ in sections:
            for record in section_records:
                print(json.dumps(record))
    tables = {(section.name, section.stride): table(section_records) for section, section_records, _ in sections}
    if not as_json:
        for (name, stride), text in tables.items():
            print(f"\n{name} (stride {stride})\n{text}")
    if write is None:
        # JSON records are for other scripts, which should not rewrite the docs as a side effect.
        write = not as_json
    if not write:
        return
    plot([(f"1D: {num_windows} windows of {window}, overlap {overlap} (dotted: seams)", variances, one_d.seams),
          *[(f"2D: {window_2d}x{window_2d} windows at stride {s.stride}, variance averaged over rows", v, s.seams)
            for s, _, v in sections[1:2]]])
    two_d_tables = "\n\n".join(f"**Stride {stride}** ({width} columns, {len(spatial_windows(window_2d, width, window_2d, stride).starts)} "
                               f"windows):\n\n{text}" for (name, stride), text in tables.items() if name == "2d")
    body = f"""## Gaussian oracle: strategies against the exact long process (`tools/bench_oracle.py`)

Errors are relative to the true covariance: *seam cov error* over position pairs on opposite sides of a seam at most
one window apart (what synchronization must repair), *cov error* over the whole canvas, *var error* of the
per-position variance, *seam step error* of the variance of the one-step difference across each seam. The first two
rows of each table are floors: exact draws from the true process (sampling noise of the estimate), and DDIM with the
oracle on one window covering the whole canvas (discretization error of {steps} DDIM steps). *worst / DDIM floor* is
the largest ratio of a row's five errors to that floor's (✓: within {TARGET}x on all five). Every row draws from the
same noise (seed {seed}), so rows differ by strategy and not by noise. *window evals* = steps x windows (the floor
evaluates one window as large as the canvas). *wall s* is on a CPU shared with other jobs; compare rows of one run.
With DDIM (eta = 0) a step is linear in x̂0 and x_t, so MultiDiffusion (average the windows' x_{{t-1}}) and
SyncTweedies (average the windows' x̂0, then step) are algebraically the same update when the windows agree on the
overlap, as they do here (their noise is cropped from one canvas, and each update keeps them agreeing): their rows
agree to float tolerance. *precisiontweedies* weights each window's x̂0 by its cross-fade share to the power 4 before
averaging (power 1 is the plain cross-fade of x̂0, power 0 SyncTweedies); why, in [variance.md](variance.md).

### 1D: frames

{num_windows} windows of {window} frames, overlap {overlap} (canvas {length} frames), squared-exponential kernel with
lengthscale {lengthscale:g} frames, {steps} DDIM steps (SD's scaled-linear schedule), {samples} long samples per row.

{tables[("1d", window - overlap)]}

### 2D: a wide field of square windows, vertical seams

{window_2d}x{window_2d} windows side by side over a {window_2d}x{width} field (height one window, as a panorama),
separable squared-exponential kernel with lengthscale {lengthscale_2d:g} on both axes, {samples_2d} samples per row;
seams are the columns where a window begins, and the seam metrics run along them over every row. The same field at
stride {max(strides)} and at stride {min(strides)} answers whether the wider stride (fewer windows, the speed lever of
bench_wide) costs quality, strategy by strategy. SyncSDE's λ sweep and the tapered mask are 1D-only rows.

{two_d_tables}

![variance along the canvas](img/oracle_variance.png)
"""
    write_section("bench_oracle", body)


if __name__ == "__main__":
    main()
