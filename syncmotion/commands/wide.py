"""`syncmotion wide`: panoramas from a Stable Diffusion checkpoint, windows synchronized by the engine."""

from __future__ import annotations

from pathlib import Path

import click

from ..pipelines.images import panorama_image
from .image_options import (
    check_out, check_panorama, check_prompt, image_settings, load_denoiser, model_options, numbered, read_prompts,
    sampling_errors, write_png,
)


@click.command()
@click.argument("prompt", required=False, default=None)
@click.option("--prompts", "prompts_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Text file with one prompt per line; writes OUT-000.png, OUT-001.png, ...")
@click.option("--width", type=int, default=2048, show_default=True, help="Image width in pixels.")
@click.option("--height", type=int, default=512, show_default=True, help="Image height in pixels.")
@click.option("--window", type=int, default=64, show_default=True, help="Window size in latent pixels (64 = 512 px).")
@click.option("--stride", type=int, default=16, show_default=True, help="Window stride in latent pixels.")
@click.option("--wrap", is_flag=True, help="Join the right edge to the left one (360° panorama).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("panorama.png"), show_default=True)
@model_options
def wide(
    prompt: str | None, prompts_file: Path | None, width: int, height: int, window: int, stride: int, wrap: bool,
    out: Path, model: str, strategy: str, inv_lambda: float, lambda_schedule: str, steps: int, guidance: float,
    negative_prompt: str, seed: int, device: str | None, half: bool, max_batch: int | None,
) -> None:
    """Make a wide image (default 512×2048) for PROMPT."""
    check_out(out)
    if (prompt is None) == (prompts_file is None):
        raise click.UsageError("give either a PROMPT or --prompts FILE")
    prompts = [check_prompt(prompt)] if prompts_file is None else read_prompts(prompts_file)
    # Checked before loading the model, so a bad size or window costs no model load.
    latent_height, latent_width = check_panorama(height, width, window, stride, wrap)
    denoiser = load_denoiser(model, device, half, guidance, negative_prompt)
    for index, text in enumerate(prompts):
        with sampling_errors():
            result = panorama_image(denoiser, text, latent_height, latent_width, window, stride, wrap,
                                    image_settings(strategy, inv_lambda, lambda_schedule, steps, seed, max_batch))
        path = numbered(out, index, len(prompts))
        write_png(path, result.image)
        click.echo(f"{path}: {width}x{height}, {result.windows} windows, {result.model_calls} UNet calls")
