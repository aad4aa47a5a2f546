"""Score every synchronization strategy against the exact answer of a Gaussian-process oracle.

Windows are drawn from a stationary Gaussian process (squared-exponential kernel over frames); the
true long sequence is the same process on the whole canvas, so the empirical covariance of many long
samples can be compared with the truth, across seams and everywhere. Usage:

    python tools/bench_oracle.py [--samples 4000] [--json] [--write/--no-write]
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import click
import matplotlib
import torch
from diffusers import DDIMScheduler

from syncmotion.engine import Strategy, SyncSDE, make_strategy, sample
from syncmotion.engine.windows import temporal_windows
from syncmotion_lab.benchdoc import markdown_table, write_section
from syncmotion_lab.oracle import GaussianOracle, score_samples, squared_exponential

matplotlib.use("Agg")  # no display: draw to files only, before pyplot is imported
import matplotlib.pyplot as plt  # noqa: E402

PLOT = Path(__file__).resolve().parent.parent / "docs" / "img" / "oracle_variance.png"


def configurations() -> list[tuple[str, Strategy, str]]:
    """(label, strategy, stitch) rows of the table."""
    rows: list[tuple[str, Strategy, str]] = [
        ("independent", make_strategy("independent"), "paste"),
        ("multidiffusion", make_strategy("multidiffusion"), "paste"),
        ("synctweedies", make_strategy("synctweedies"), "paste"),
    ]
    rows += [(f"syncsde 1/λ={v:g}", SyncSDE(v), "paste") for v in (1, 2, 5, 10)]
    rows += [("syncsde 1/λ=5 crossfade", SyncSDE(5), "crossfade"), ("syncsde 1/λ=5 constant λ", SyncSDE(5, "constant"), "paste")]
    return rows


@click.command()
@click.option("--samples", default=4000, show_default=True, help="Long samples drawn per strategy (>= 1000).")
@click.option("--window", default=40, show_default=True, help="Window length in frames.")
@click.option("--overlap", default=10, show_default=True, help="Overlap between windows in frames.")
@click.option("--windows", "num_windows", default=4, show_default=True, help="Number of windows.")
@click.option("--lengthscale", default=6.0, show_default=True, help="Kernel lengthscale in frames.")
@click.option("--steps", default=50, show_default=True, help="DDIM steps.")
@click.option("--seed", default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON record per strategy instead of the table.")
@click.option("--write/--no-write", default=None,
              help="Update docs/benchmarks.md and the plot (default: yes, but not with --json).")
def main(samples: int, window: int, overlap: int, num_windows: int, lengthscale: float, steps: int, seed: int,
         as_json: bool, write: bool | None) -> None:
    """Print (and record) the strategy table on the Gaussian oracle."""
    if samples < 1000:
        raise click.BadParameter("use at least 1000 samples so covariance estimates are meaningful", param_hint="--samples")
    length = window + (num_windows - 1) * (window - overlap)
    scheduler = DDIMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, clip_sample=False,
                              timestep_spacing="trailing")
    layout = temporal_windows(length=length, window=window, overlap=overlap)
    oracle = GaussianOracle(scheduler, [squared_exponential(window, lengthscale)])
    long_oracle = GaussianOracle(scheduler, [squared_exponential(length, lengthscale)])
    truth = long_oracle.covariance()
    seams = layout.starts[1:]

    # Every row draws from a fresh generator with the same seed, so rows differ by strategy and not by noise.
    records, variances = [], {}
    exact = torch.randn(samples, length, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    exact = exact @ torch.linalg.cholesky(truth).T
    references = [("exact draws (estimation floor)", exact, 0.0, 0)]
    start = time.perf_counter()
    whole = sample(long_oracle, scheduler, temporal_windows(length, length, 0), [None], strategy="independent",
                   steps=steps, batch_size=samples, generator=torch.Generator().manual_seed(seed), progress=False)
    references.append(("one window over the canvas (DDIM floor)", whole.canvas, time.perf_counter() - start, whole.model_calls))
    for label, canvas, seconds, calls in references:
        records.append({"strategy": label, "inv_lambda": None, "stitch": "-", "seconds": seconds, "model_calls": calls,
                        **score_samples(canvas, truth, seams, reach=window)})
        variances[label] = canvas.double().pow(2).mean(0)
    for label, strategy, stitch in configurations():
        start = time.perf_counter()
        result = sample(oracle, scheduler, layout, [None] * layout.num_windows, strategy=strategy, steps=steps,
                        batch_size=samples, generator=torch.Generator().manual_seed(seed), stitch=stitch,
                        progress=False)
        seconds = time.perf_counter() - start
        records.append({"strategy": label if not isinstance(strategy, SyncSDE) else "syncsde",
                        "label": label, "inv_lambda": getattr(strategy, "inv_lambda", None), "stitch": stitch,
                        "seconds": seconds, "model_calls": result.model_calls,
                        **score_samples(result.canvas, truth, seams, reach=window)})
        variances[label] = result.canvas.double().pow(2).mean(0)

    if as_json:
        for record in records:
            print(json.dumps(record))
    headers = ["strategy", "stitch", "seam cov error", "cov error", "var error (mean)", "var error (max)",
               "seam step error", "wall s"]
    rows = [[r.get("label", r["strategy"]), r["stitch"], f"{r['seam_cov_error']:.3f}", f"{r['cov_error']:.3f}",
             f"{r['var_error']:.3f}", f"{r['max_var_error']:.3f}", f"{r['seam_step_error']:.3f}", f"{r['seconds']:.2f}"]
            for r in records]
    table = markdown_table(headers, rows)
    if not as_json:
        print(table)
    if write is None:
        # JSON records are for other scripts, which should not rewrite the docs as a side effect.
        write = not as_json
    if not write:
        return
    PLOT.parent.mkdir(parents=True, exist_ok=True)
    figure, axis = plt.subplots(figsize=(9, 4))
    for label, variance in variances.items():
        if "exact" in label or "1/λ=1" in label or "1/λ=2" in label or "1/λ=10" in label:
            continue
        axis.plot(variance.numpy(), label=label, linewidth=1.2)
    for seam in seams:
        axis.axvline(seam, color="grey", linestyle=":", linewidth=0.8)
    axis.axhline(1.0, color="black", linewidth=0.8)
    axis.set(xlabel="frame", ylabel="per-position variance (truth = 1)", title="Variance along the canvas (dotted: seams)")
    axis.legend(fontsize=7, ncol=2)
    figure.tight_layout()
    figure.savefig(PLOT, dpi=110)
    body = f"""## Gaussian oracle: strategies against the exact long process (`tools/bench_oracle.py`)

Setup: {num_windows} windows of {window} frames, overlap {overlap} (canvas {length} frames), squared-exponential
kernel with lengthscale {lengthscale:g} frames, {steps} DDIM steps (SD's scaled-linear schedule), {samples} long
samples per row, every row from the same noise (seed {seed}). Errors are relative to the true covariance:
*seam cov error* over frame pairs on opposite sides of a seam at most one window apart (what synchronization must
repair), *cov error* over the whole canvas, *var error* of the per-position variance, *seam step error* of the variance
of the one-frame step at each seam. The first two rows are floors: exact draws from the true process (sampling noise
of the estimate), and DDIM with the oracle on one window covering the whole canvas (discretization error of {steps}
DDIM steps). With DDIM (eta = 0) a step is linear in x̂0 and x_t, so MultiDiffusion (average the windows' x_{{t-1}})
and SyncTweedies (average the windows' x̂0, then step) are algebraically the same update when the windows agree on the
overlap, as they do here (their noise is cropped from one canvas, and each update keeps them agreeing): their rows
agree to float tolerance. *wall s* is on a CPU shared with other jobs; compare rows of one run.

{table}

![variance along the canvas](img/oracle_variance.png)
"""
    write_section("bench_oracle", body)


if __name__ == "__main__":
    main()
