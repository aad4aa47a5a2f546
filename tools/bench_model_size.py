"""What a bigger embedded model would cost on this CPU: the README demo sampled by networks of other windows and sizes.

    python tools/bench_model_size.py [--runs 3] [--no-write]

Issue 21 asks whether a longer window (120 or 160 frames) or a wider network is worth its CPU cost, with the README
demo (30 s of motion and its animation) kept under 30 s of wall time on a 2-core CPU. What a retrain would gain
needs the training run; what it would cost does not. Each row is a network of that shape with random weights, the
shipped model's normalization, settings (its window changed) and training texts, sampling sequences/demo.txt with
the command's defaults in this process; the shipped model is the first row. Rows run interleaved, --runs times, and
the median is kept. The whole demo (`syncmotion motion sequences/demo.txt`, all five files, a fresh process) is timed
with the shipped model in the same runs; a row's estimate adds its extra sampling time to that, since writing and
drawing the files do not depend on the network.
"""

from __future__ import annotations

import os
import platform
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import click
import torch

from syncmotion.backends.embedded import default_model_path, read_embedded, read_text_prototypes, save_embedded
from syncmotion.backends.mdm_network import MDMConfig, MDMNetwork
from syncmotion.backends.registry import ModelOptions, load_motion_model
from syncmotion.motion.script import parse_script
from syncmotion.pipelines.long_motion import LongMotionSettings, generate_motion
from syncmotion.resources import REPO_ROOT
from syncmotion_lab.benchdoc import markdown_table, write_section
from syncmotion_lab.command_timing import timed

DEMO = REPO_ROOT / "sequences" / "demo.txt"
BUDGET_S = 30.0  # issue 21: the README demo with its animation, on this 2-core CPU


@dataclass(frozen=True)
class Shape:
    """A network shape to time: its window (frames) and MDM's size settings."""

    window: int
    latent_dim: int
    layers: int
    ff_size: int

    def label(self) -> str:
        """How the table names it."""
        return f"window {self.window}, width {self.latent_dim}, {self.layers} layers, ff {self.ff_size}"


SHAPES = [Shape(80, 256, 4, 768), Shape(120, 256, 4, 768), Shape(160, 256, 4, 768), Shape(80, 384, 4, 1152),
          Shape(80, 512, 4, 1536), Shape(80, 256, 8, 768), Shape(160, 384, 6, 1152), Shape(160, 512, 8, 1536)]


def _random_model(shape: Shape, folder: Path) -> Path:
    """A file like the shipped model's, with a random network of `shape`."""
    shipped = default_model_path()
    network, mean, std, settings = read_embedded(shipped)
    config = {**network.config.to_dict(), "latent_dim": shape.latent_dim, "layers": shape.layers, "ff_size": shape.ff_size}
    torch.manual_seed(0)
    path = folder / f"w{shape.window}-d{shape.latent_dim}-l{shape.layers}.safetensors"
    save_embedded(path, MDMNetwork(MDMConfig(**config)), mean, std, {**settings, "window": shape.window},
                  read_text_prototypes(shipped))
    return path


def _sampling_seconds(path: Path) -> float:
    """Wall seconds of sampling the demo with the model at `path` (loaded first, not timed), the command's defaults."""
    backend = load_motion_model(path, ModelOptions())
    script = parse_script(DEMO)
    started = time.perf_counter()
    generate_motion(script, backend, LongMotionSettings(smooth=5), progress=False)
    return time.perf_counter() - started


@click.command()
@click.option("--runs", type=click.IntRange(min=1), default=3, show_default=True, help="Interleaved runs of every row.")
@click.option("--write/--no-write", default=True, show_default=True, help="Update docs/benchmarks.md.")
def main(runs: int, write: bool) -> None:
    """Print (and record) the demo's sampling time with networks of other windows and sizes."""
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        paths = {"shipped model": default_model_path(), **{shape.label(): _random_model(shape, folder) for shape in SHAPES}}
        parameters = {label: sum(t.numel() for t in read_embedded(path)[0].parameters()) for label, path in paths.items()}
        sampling: dict[str, list[float]] = {label: [] for label in paths}
        demo: list[float] = []
        _sampling_seconds(paths["shipped model"])  # text embeddings and the first bfloat16 kernels, once
        for _ in range(runs):
            # The shipped model's whole demo, all five files, a fresh process that no server of the user's answers.
            demo.append(timed(["motion", str(DEMO), "--out", str(folder / "demo")], folder / "cache", folder / "servers"))
            for label, path in paths.items():
                sampling[label].append(_sampling_seconds(path))
    shipped = statistics.median(sampling["shipped model"])
    whole = statistics.median(demo)
    rows = []
    for label, times in sampling.items():
        median = statistics.median(times)
        estimate = whole + median - shipped
        rows.append([label, f"{parameters[label] / 1e6:.1f} M", f"{median:.2f}", f"{median / shipped:.2f}", f"{estimate:.1f}",
                     "yes" if estimate < BUDGET_S else "no"])
    table = markdown_table(["network", "parameters", "demo sampling s (median)", "x shipped",
                            "whole demo s (estimate)", f"under {BUDGET_S:g} s"], rows)
    click.echo(table)
    if write:
        write_section("bench_model_size", f"""## What a bigger embedded model would cost (`tools/bench_model_size.py`)

`python tools/bench_model_size.py --runs {runs}`: sequences/demo.txt (30 s of motion) sampled with the command's
defaults (DDIM-30 from t = 999, SyncSDE, overlap 10, bfloat16 where the CPU has it) by networks of other windows and
sizes with random weights (the cost of a network does not depend on its weights), interleaved with the shipped model,
median of {runs} runs, in one process, on this machine's {os.cpu_count()}-core CPU ({platform.processor() or platform.machine()},
torch {torch.__version__}, {torch.get_num_threads()} threads). The whole demo (all five files, a fresh process) took
{whole:.1f} s with the shipped model in the same runs (median); a row's estimate adds its extra sampling time, since
writing and drawing the files do not depend on the network. Issue 21's budget for the demo is {BUDGET_S:g} s.

{table}
""")


if __name__ == "__main__":
    main()
