"""`syncmotion anagram`: one image that reads as one prompt as is and as another through a flip or rotation."""

from __future__ import annotations

from pathlib import Path

import click

from ..backends.stable_diffusion import decode, to_uint8
from ..engine.image_layouts import VIEWS, AnagramLayout, apply_view
from ..pipelines.images import sample_layout
from .image_options import (
    check_out, check_prompt, check_size, image_settings, load_denoiser, model_options, sampling_errors, write_png,
)


@click.command()
@click.argument("first")
@click.argument("second")
@click.option("--view", type=click.Choice(VIEWS), default="flip", show_default=True,
              help="How the image is turned to show SECOND (flip = upside down).")
@click.option("--size", type=int, default=512, show_default=True, help="Side of the square image in pixels.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("anagram.png"), show_default=True,
              help="The image as FIRST; the turned one (SECOND) goes to OUT-view.png.")
@model_options
def anagram(
    first: str, second: str, view: str, size: int, out: Path, model: str, strategy: str, inv_lambda: float, lambda_schedule: str,
    steps: int, guidance: float, negative_prompt: str, seed: int, device: str | None, half: bool,
    max_batch: int | None,
) -> None:
    """Make an image that shows FIRST, and SECOND when turned by --view."""
    check_out(out)
    prompts = [check_prompt(first, "first prompt"), check_prompt(second, "second prompt")]
    latent_size, _ = check_size(size, size, 8)
    layout = AnagramLayout(latent_size, latent_size, view)
    denoiser = load_denoiser(model, device, half, guidance, negative_prompt)
    with sampling_errors():
        result = sample_layout(denoiser, layout, prompts,
                               image_settings(strategy, inv_lambda, lambda_schedule, steps, seed, max_batch))
    # As in the official code, the synchronized window 1 is the result; the first reading is its inverse view.
    turned = decode(denoiser.pipeline, result.windows[:, 1])[0]
    view_path = out.with_name(f"{out.stem}-view{out.suffix}")
    write_png(view_path, to_uint8(turned))
    write_png(out, to_uint8(apply_view(turned, view, inverse=True)))
    click.echo(f"{out} ({prompts[0]!r}) and {view_path} ({prompts[1]!r}): {size}x{size}, {result.model_calls} UNet calls")
