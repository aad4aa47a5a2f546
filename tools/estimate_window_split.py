"""How much one very long motion would gain from splitting its windows across devices that exchange only overlaps.

    python tools/estimate_window_split.py [--minutes 10] [--steps 5] [--no-write]

Measured: the lockstep sampler's time per denoising step with the embedded model on this CPU for several numbers of
windows, fitted as a fixed cost per step plus a cost per window. Modelled: D devices each holding a contiguous block
of the windows, stepping them in lockstep, and before each step sending the overlap frames of their block's edge
windows to their neighbours (latency plus bytes over bandwidth, for two kinds of link). The design is in
docs/batch.md ("Splitting one long motion across devices").
"""

from __future__ import annotations

import math
import os
import platform
import time

import click
import numpy as np
import torch

from syncmotion.backends.embedded import load_embedded
from syncmotion.motion.features import FEATURE_DIM
from syncmotion.motion.script import parse_script, plan_windows
from syncmotion.pipelines.long_motion import DEFAULT_OVERLAP, LongMotionSettings, generate_motion
from syncmotion_lab.benchdoc import markdown_table, write_section

# Links between devices: (name, one-way latency s, bandwidth bytes/s).
LINKS = [("NVLink-class (5 µs, 100 GB/s)", 5e-6, 100e9), ("10 GbE between nodes (50 µs, 1.2 GB/s)", 50e-6, 1.2e9)]
DEVICES = (1, 2, 4, 8, 16)


def step_seconds(backend, windows: int, steps: int) -> tuple[int, float]:
    """The windows of a one-text script about `windows` windows long, and seconds per lockstep denoising step for it."""
    stride = backend.window - DEFAULT_OVERLAP
    script = parse_script(f"a person walks forward | {backend.window + (windows - 1) * stride}f\n")
    settings = LongMotionSettings(steps=steps, seed=0)
    generate_motion(script, backend, settings, progress=False)  # warm-up: allocations, text embedding
    started = time.perf_counter()
    generate_motion(script, backend, settings, progress=False)
    return len(plan_windows(script, backend.window, DEFAULT_OVERLAP).texts), (time.perf_counter() - started) / steps


@click.command()
@click.option("--minutes", type=click.FloatRange(min=0.1), default=10, show_default=True, help="Length of the one motion.")
@click.option("--steps", type=click.IntRange(min=2), default=5, show_default=True, help="Steps per timing (the fit is per step).")
@click.option("--write/--no-write", default=True, show_default=True, help="Update docs/benchmarks.md.")
def main(minutes: float, steps: int, write: bool) -> None:
    """Print (and record) the estimated step time of one long motion split over 1-16 devices."""
    backend = load_embedded(None)
    sizes, measured = zip(*(step_seconds(backend, size, steps) for size in (4, 8, 16, 32)))
    per_window, fixed = np.polyfit(sizes, measured, 1)
    stride = backend.window - DEFAULT_OVERLAP
    windows = math.ceil((minutes * 60 * 20 - backend.window) / stride) + 1
    # What crosses a block edge each step: the overlap frames of one window's latent (float32), both ways
    # (SyncSDE needs only the forward direction; MultiDiffusion-style averaging needs both).
    edge_bytes = DEFAULT_OVERLAP * FEATURE_DIM * 4
    rows = []
    for devices in DEVICES:
        compute = fixed + per_window * math.ceil(windows / devices)
        row: list[object] = [devices, math.ceil(windows / devices), f"{compute * 1e3:.1f}"]
        for _, latency, bandwidth in LINKS:
            exchange = 0.0 if devices == 1 else 2 * (latency + edge_bytes / bandwidth)
            row += [f"{(compute + exchange) * 1e3:.1f}", f"{(fixed + per_window * windows) / (compute + exchange):.2f}"]
        rows.append(row)
    headers = ["devices", "windows each", "compute ms/step"]
    for name, _, _ in LINKS:
        headers += [f"step ms, {name}", "speed-up"]
    table = markdown_table(headers, rows)
    fit = markdown_table(["windows", *map(str, sizes)], [["measured ms/step", *(f"{m * 1e3:.1f}" for m in measured)]])
    click.echo(fit + "\n\n" + table)
    if write:
        write_section("estimate_window_split", f"""## One long motion split across devices: an estimate (`tools/estimate_window_split.py`)

Measured on this machine's {os.cpu_count()}-core CPU ({platform.processor() or platform.machine()}, torch {torch.__version__},
{torch.get_num_threads()} threads): one lockstep SyncSDE step of the embedded model (window {backend.window}, overlap
{DEFAULT_OVERLAP}) over 4-32 windows, fitted as {fixed * 1e3:.1f} ms per step plus {per_window * 1e3:.2f} ms per window:

{fit}

Modelled from that fit: a {minutes:g}-minute motion ({windows} windows) split into contiguous blocks over D devices of
this speed, each step costing the fixed part, the block's windows, and one exchange of {edge_bytes / 1e3:.1f} kB
(the overlap frames of an edge window) each way with the neighbouring blocks. The design and what this leaves out
are in docs/batch.md.

{table}
""")


if __name__ == "__main__":
    main()
