"""`syncmotion edit`: change a photo from a source prompt to a target prompt, inside a mask, on the engine."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np
import torch
from PIL import Image

from syncmotion.files import check_output_file
from ..backends.attention_maps import self_attention_bytes
from ..backends.stable_diffusion import decode, encode, from_uint8, to_uint8
from ..engine.inversion import Inversion
from ..pipelines.edit import MASK_THRESHOLD, attention_mask, changed_words, edit_latents, invert
from ..pipelines.inversion_file import load_inversion, save_inversion as write_inversion
from .image_options import (
    check_out, check_prompt, image_settings, load_denoiser, model_options, sampling_errors, write_png,
)

LATENT_FACTOR = 8  # Stable Diffusion's VAE: one latent pixel per 8×8 image pixels
# An inversion file read back must match the photo's own latent this closely (relative mean difference); devices and
# float16 differ far less, another photo or model far more.
INVERSION_MATCH = 0.05
# Reading the mask keeps one [h·w, h·w] self-attention map; past this it is refused up front (8 GiB: a 1720 px square).
SELF_ATTENTION_LIMIT = 8 * 2**30


def read_image(path: Path, name: str = "image") -> np.ndarray:
    """An image file as an H×W×3 uint8 array, or a usage error naming the file."""
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise click.UsageError(f"cannot read the {name} {path}: {error}") from error


def check_image_size(path: Path, width: int, height: int) -> None:
    """A usage error unless both sides are positive multiples of 8 px, naming the nearest size that is."""
    if width % LATENT_FACTOR or height % LATENT_FACTOR:
        nearest = [max(LATENT_FACTOR, round(side / LATENT_FACTOR) * LATENT_FACTOR) for side in (width, height)]
        raise click.UsageError(
            f"{path.name} is {width}x{height} px; the model takes sides that are multiples of {LATENT_FACTOR}: crop or "
            f"resize it to {nearest[0]}x{nearest[1]}"
        )


def read_edit_mask(path: Path, width: int, height: int) -> torch.Tensor:
    """A 0/1 mask [h, w] in latent pixels from an image of the photo's size: a latent pixel is edited when at least
    half of its 8×8 block is white (≥ 50 % grey)."""
    grey = read_image(path, "mask").mean(axis=-1) / 255.0
    if grey.shape != (height, width):
        raise click.UsageError(f"the mask {path.name} is {grey.shape[1]}x{grey.shape[0]} px but the image is "
                               f"{width}x{height}; give a mask of the image's size")
    blocks = (grey >= 0.5).reshape(height // LATENT_FACTOR, LATENT_FACTOR, width // LATENT_FACTOR, LATENT_FACTOR)
    mask = torch.from_numpy((blocks.mean(axis=(1, 3)) >= 0.5).astype(np.float32))
    if not bool(mask.any()):
        raise click.UsageError(f"the mask {path.name} is all black at the latent size, so nothing would change; paint "
                               "the region to edit white")
    return mask


def read_reused_inversion(path: Path, source: str, size: tuple[int, int], steps: int | None) -> Inversion:
    """An inversion file for this image size and source prompt (and number of steps, when given), or a usage error."""
    try:
        inversion, inverted_source, inverted_size = load_inversion(path)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    if inverted_size != size:
        raise click.UsageError(f"{path.name} was made from a {inverted_size[0]}x{inverted_size[1]} image, not "
                               f"{size[0]}x{size[1]}; invert this image (drop --inversion)")
    if inverted_source != source:
        raise click.UsageError(f"{path.name} was inverted under {inverted_source!r}; give that source prompt, or drop "
                               "--inversion")
    if steps is not None and inversion.steps != steps:
        raise click.UsageError(f"{path.name} was made with {inversion.steps} steps; pass --steps {inversion.steps} or "
                               "drop --inversion")
    return inversion


def side_path(out: Path, tag: str, suffix: str) -> Path:
    """A file written beside the output: OUT-tag.suffix."""
    return out.with_name(f"{out.stem}-{tag}{suffix}")


@click.command()
@click.argument("image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("source")
@click.argument("target")
@click.option("--mask", "mask_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Image of the photo's size whose white part may change (default: read from attention).")
@click.option("--mask-threshold", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=MASK_THRESHOLD,
              show_default=True, help="Threshold on the attention map that makes the mask.")
@click.option("--save-mask", is_flag=True, help="Also write the mask used as OUT-mask.png (reusable with --mask).")
@click.option("--save-inversion", is_flag=True,
              help="Also write the inverted path as OUT-inversion.safetensors (reusable with --inversion).")
@click.option("--inversion", "inversion_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Reuse an inversion of this image written by --save-inversion instead of inverting.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("edited.png"), show_default=True)
@model_options
@click.pass_context
def edit(
    ctx: click.Context, image: Path, source: str, target: str, mask_path: Path | None, mask_threshold: float,
    save_mask: bool, save_inversion: bool, inversion_path: Path | None, out: Path, model: str, strategy: str,
    inv_lambda: float, lambda_schedule: str, steps: int, guidance: float, negative_prompt: str, seed: int,
    device: str | None, half: bool, max_batch: int | None,
) -> None:
    """Edit IMAGE from what SOURCE describes to TARGET, changing only the region of the words that differ."""
    check_out(out)
    extra_outputs = [side_path(out, "mask", ".png")] * save_mask + [side_path(out, "inversion", ".safetensors")] * save_inversion
    for path in extra_outputs:
        try:
            check_output_file(path)
        except ValueError as error:
            raise click.ClickException(str(error)) from None
    source = check_prompt(source, "source prompt")
    target = check_prompt(target, "target prompt")
    if source == target:
        raise click.UsageError("the source and target prompts are the same; write in TARGET what the image should become")
    words: list[int] = []
    if mask_path is None:
        try:
            words = changed_words(source, target)
        except ValueError as error:
            raise click.UsageError(f"{error}, or give --mask") from None
    pixels = read_image(image)
    height, width = pixels.shape[:2]
    check_image_size(image, width, height)
    mask = None if mask_path is None else read_edit_mask(mask_path, width, height)
    needed = self_attention_bytes(height // LATENT_FACTOR, width // LATENT_FACTOR)
    if mask is None and needed > SELF_ATTENTION_LIMIT:
        raise click.UsageError(f"reading the mask of a {width}x{height} image from attention needs {needed / 2**30:.1f} GiB "
                               "for one self-attention map; give --mask, or edit a smaller image")
    inversion = None
    if inversion_path is not None:
        steps_given = ctx.get_parameter_source("steps") != click.core.ParameterSource.DEFAULT
        inversion = read_reused_inversion(inversion_path, source, (width, height), steps if steps_given else None)
        steps = inversion.steps
    settings = image_settings(strategy, inv_lambda, lambda_schedule, steps, seed, max_batch)

    denoiser = load_denoiser(model, device, half, guidance, negative_prompt)
    pipeline = denoiser.pipeline
    latent = encode(pipeline, from_uint8(pixels)[None])
    with sampling_errors():
        if inversion is None:
            inversion = invert(pipeline, latent, source, steps)
        else:
            mismatch = float((inversion.states[-1] - latent).abs().mean() / latent.abs().mean().clamp_min(1e-12))
            if inversion.states.shape[1:] != latent.shape or mismatch > INVERSION_MATCH:
                raise click.UsageError(f"{inversion_path.name} does not match {image.name} under this model; invert "
                                       "it again (drop --inversion)")
        calls = {"inversion": inversion.model_calls}
        if mask is None:
            mask, _, calls["mask"] = attention_mask(pipeline, inversion, source, words, mask_threshold)
            if not bool(mask.any()):
                changed = " ".join(source.split()[index] for index in words)
                raise click.ClickException(f"the attention to {changed!r} stays under {mask_threshold} everywhere; "
                                           "lower --mask-threshold or give --mask")
        result = edit_latents(denoiser, inversion, mask, source, target, settings)
        calls["edit"] = result.model_calls
    write_png(out, to_uint8(decode(pipeline, result.windows[:, 2])[0]))
    if save_mask:
        block = np.ones((LATENT_FACTOR, LATENT_FACTOR), dtype=np.uint8)
        write_png(side_path(out, "mask", ".png"), np.kron(mask.numpy().astype(np.uint8) * 255, block))
    if save_inversion:
        write_inversion(side_path(out, "inversion", ".safetensors"), inversion, source, (width, height))
    spent = ", ".join(f"{name} {count}" for name, count in calls.items())
    click.echo(f"{out}: {width}x{height}, mask {float(mask.mean()):.0%} of the image, "
               f"{sum(calls.values())} UNet calls ({spent})")
