"""Engine overhead per step: everything the sampler does besides the model call, as a fraction of a step.

A small transformer denoiser (the tiny model) runs inside the engine for each strategy; the time spent
inside the model is measured by wrapping it, and the rest of each step is the engine's overhead.

    python tools/bench_engine.py [--no-write]
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import click
import torch
from diffusers import DDIMScheduler

from syncmotion.backends.embedded import default_model_path, read_embedded
from syncmotion.backends.mdm import MDMDenoiser
from syncmotion.backends.mdm_network import MDMNetwork
from syncmotion.engine import sample
from syncmotion.engine.windows import spatial_windows, temporal_windows
from syncmotion_lab.benchdoc import markdown_table, write_section


class TinyTransformer(torch.nn.Module):
    """A small sequence model over window positions: the stand-in for a real (much larger) denoiser."""

    def __init__(self, channels: int, width: int, layers: int) -> None:
        super().__init__()
        self.inp = torch.nn.Linear(channels, width)
        layer = torch.nn.TransformerEncoderLayer(width, 4, 2 * width, dropout=0.0, batch_first=True)
        self.body = torch.nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.out = torch.nn.Linear(width, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Output shaped like the [B, positions, channels] input."""
        return self.out(self.body(self.inp(x)))


class SequenceDenoiser:
    """A [B, positions, channels] sequence model as an ε-predicting engine denoiser."""

    prediction_type = "epsilon"

    def __init__(self, model: torch.nn.Module) -> None:
        self.model = model

    def __call__(self, x: torch.Tensor, t: torch.Tensor, conds: Sequence[Any]) -> torch.Tensor:
        """The model output for a batch of windows."""
        with torch.inference_mode():
            return self.model(x.flatten(2).transpose(1, 2)).transpose(1, 2).reshape(x.shape)


class TimedDenoiser:
    """Wraps an engine denoiser and accumulates the seconds spent inside it."""

    def __init__(self, denoiser: Any) -> None:
        self.denoiser = denoiser
        self.prediction_type = denoiser.prediction_type
        self.seconds = 0.0

    def __call__(self, x: torch.Tensor, t: torch.Tensor, conds: Sequence[Any]) -> torch.Tensor:
        """The wrapped denoiser's output."""
        start = time.perf_counter()
        out = self.denoiser(x, t, conds)
        self.seconds += time.perf_counter() - start
        return out


def embedded_size_denoiser() -> MDMDenoiser:
    """The shipped embedded model's architecture (random weights) with guidance, on fixed text embeddings."""
    network = MDMNetwork(read_embedded(default_model_path())[0].config)
    table = torch.randn(network.config.text_dim)
    return MDMDenoiser(network, lambda texts: table.expand(len(texts), -1), guidance=2.5)


def measure(name: str, layout, latent_shape: tuple[int, ...], model: Any, strategy: str, steps: int) -> list:
    """One table row: total seconds, seconds in the model, engine overhead fraction."""
    denoiser = TimedDenoiser(model)
    scheduler = DDIMScheduler(clip_sample=False, prediction_type=model.prediction_type)
    sample(denoiser, scheduler, layout, [None] * layout.num_windows, latent_shape=latent_shape, strategy=strategy,
           steps=2, progress=False)  # warm-up
    denoiser.seconds = 0.0
    start = time.perf_counter()
    sample(denoiser, scheduler, layout, [None] * layout.num_windows, latent_shape=latent_shape, strategy=strategy,
           steps=steps, generator=torch.Generator().manual_seed(0), progress=False)
    total = time.perf_counter() - start
    overhead = total - denoiser.seconds
    return [name, strategy, layout.num_windows, f"{1000 * total / steps:.1f}", f"{1000 * overhead / steps:.2f}",
            f"{100 * overhead / total:.1f}%"]


@click.command()
@click.option("--steps", default=20, show_default=True)
@click.option("--no-write", is_flag=True, help="Do not update docs/benchmarks.md.")
def main(steps: int, no_write: bool) -> None:
    """Print (and record) the engine overhead table."""
    torch.manual_seed(0)
    motion_model = embedded_size_denoiser()
    image_model = SequenceDenoiser(TinyTransformer(4, 64, 1).eval())
    cases = [
        ("motion 60 s: 263×1200 frames, windows 80/20", temporal_windows(1200, 80, 20), (263, 1), motion_model),
        ("image: 4×32×128 latent, windows 32/16", spatial_windows(32, 128, 32, 16), (4,), image_model),
    ]
    rows = [measure(name, layout, latent, model, strategy, steps)
            for name, layout, latent, model in cases
            for strategy in ("independent", "syncsde", "multidiffusion", "synctweedies")]
    headers = ["case (tiny model)", "strategy", "windows", "ms / step", "engine ms / step", "engine share of step"]
    table = markdown_table(headers, rows)
    print(table)
    if no_write:
        return
    write_section("bench_engine", f"""## Engine overhead per step (`tools/bench_engine.py`)

Time per denoising step of the whole sampler and of its own work (everything but the model call: noise
bookkeeping, ε/x̂0 conversion, X̃ gathering, canvas averaging, the diffusers DDIM step), with deliberately tiny
denoisers: for motion the embedded model's architecture ({motion_model.network.config.layers} layers ×
{motion_model.network.config.latent_dim} wide, random weights, classifier-free guidance in one batched call), for images
a 1-layer × 64 transformer; this 2-core CPU, {steps} steps.
With real models (MDM: 8 × 512, SD UNet) the model call is far larger and the engine's share smaller still.

{table}
""")


if __name__ == "__main__":
    main()
