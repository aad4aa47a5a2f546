"""`syncmotion masked-t2i`: a background prompt, an object prompt and a mask, synchronized into one image."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np
import torch
from PIL import Image

from ..backends.stable_diffusion import decode, to_uint8
from ..engine.image_layouts import MaskedLayout
from ..pipelines.images import sample_layout
from .image_options import (
    check_out, check_prompt, check_size, image_settings, load_denoiser, model_options, sampling_errors, write_png,
)


def load_mask(path: Path, latent_height: int, latent_width: int) -> torch.Tensor:
    """A 0/1 mask [h, w] in latent pixels from an image: white (≥ 50 % grey) marks the object."""
    try:
        grey = Image.open(path).convert("L").resize((latent_width, latent_height), Image.Resampling.NEAREST)
    except OSError as error:
        raise click.UsageError(f"cannot read the mask image {path}: {error}") from error
    mask = torch.from_numpy((np.asarray(grey, dtype=np.float32) / 255.0 >= 0.5).astype(np.float32))
    if not 0 < float(mask.mean()) < 1:
        raise click.UsageError(
            f"the mask {path} is all {'white' if mask.mean() else 'black'} at the latent size; paint the object white "
            "and the rest black"
        )
    return mask


@click.command("masked-t2i")
@click.argument("background")
@click.argument("object_prompt", metavar="OBJECT")
@click.option("--mask", "mask_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Image whose white part is where the object goes.")
@click.option("--prompt", "output_prompt", default=None,
              help="Prompt of the output image (default: 'BACKGROUND with OBJECT').")
@click.option("--width", type=int, default=512, show_default=True)
@click.option("--height", type=int, default=512, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("masked.png"), show_default=True)
@model_options
def masked_t2i(
    background: str, object_prompt: str, mask_path: Path, output_prompt: str | None, width: int, height: int,
    out: Path, model: str, strategy: str, inv_lambda: float, lambda_schedule: str, steps: int, guidance: float, negative_prompt: str,
    seed: int, device: str | None, half: bool, max_batch: int | None,
) -> None:
    """Make one image with BACKGROUND outside the mask and OBJECT inside it."""
    check_out(out)
    background = check_prompt(background, "background prompt")
    object_prompt = check_prompt(object_prompt, "object prompt")
    output_prompt = check_prompt(output_prompt or f"{background} with {object_prompt}", "output prompt")
    latent_height, latent_width = check_size(height, width, 8)
    layout = MaskedLayout(load_mask(mask_path, latent_height, latent_width))
    denoiser = load_denoiser(model, device, half, guidance, negative_prompt)
    with sampling_errors():
        result = sample_layout(
            denoiser, layout, [background, object_prompt, output_prompt],
            image_settings(strategy, inv_lambda, lambda_schedule, steps, seed, max_batch),
        )
    write_png(out, to_uint8(decode(denoiser.pipeline, result.windows[:, 2])[0]))
    click.echo(f"{out}: {width}x{height}, {result.model_calls} UNet calls")
