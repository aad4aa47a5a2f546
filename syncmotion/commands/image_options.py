"""What the image commands share: model options, input checks and atomic PNG writing."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import imageio.v3 as iio
import numpy as np

from syncmotion.files import check_output_file, write_atomically
from ..backends.stable_diffusion import StableDiffusionDenoiser, load_pipeline
from ..devices import default_device
from ..engine import STRATEGIES, strategy_from_options
from ..engine.strategies import LAMBDA_SCHEDULES
from ..engine.windows import spatial_windows
from ..pipelines.images import ImageSettings
from .params import DEVICE, POSITIVE, SEED, FiniteFloat


def model_options(command: Callable) -> Callable:
    """Add the options every Stable Diffusion command takes."""
    options = [
        click.option("--model", required=True, help="Diffusers Stable Diffusion folder (or a hub id when online)."),
        click.option("--strategy", type=click.Choice(sorted(STRATEGIES)), default="syncsde", show_default=True),
        click.option("--inv-lambda", type=POSITIVE, default=5.0, show_default=True,
                     help="SyncSDE's 1/λ."),
        click.option("--lambda-schedule", type=click.Choice(LAMBDA_SCHEDULES), default="linear", show_default=True,
                     help="SyncSDE: 1/λ falls linearly with t (the paper's) or stays constant."),
        click.option("--steps", type=click.IntRange(min=1), default=50, show_default=True, help="DDIM steps."),
        click.option("--guidance", type=FiniteFloat(min=0), default=7.5, show_default=True,
                     help="Classifier-free guidance scale (1 or less: no guidance)."),
        click.option("--negative-prompt", default="", help="Prompt the guidance steers away from."),
        click.option("--seed", type=SEED, default=0, show_default=True),
        click.option("--device", type=DEVICE, default=None, help="torch device (default: cuda when available, else cpu)."),
        click.option("--half", is_flag=True, help="Run the model in float16 (GPU)."),
        click.option("--max-batch", type=click.IntRange(min=1), default=None, help="At most this many windows per UNet call."),
    ]
    return functools.reduce(lambda wrapped, option: option(wrapped), reversed(options), command)


def image_settings(strategy: str, inv_lambda: float, lambda_schedule: str, steps: int, seed: int,
                   max_batch: int | None) -> ImageSettings:
    """The sampling settings the model options describe."""
    chosen = strategy_from_options(strategy, {"inv_lambda": inv_lambda, "schedule": lambda_schedule})
    return ImageSettings(strategy=chosen, steps=steps, seed=seed, max_batch=max_batch)


def load_denoiser(
    model: str, device: str | None, half: bool, guidance: float, negative_prompt: str
) -> StableDiffusionDenoiser:
    """The guided denoiser of a checkpoint, or a usage error naming what is wrong with the model folder."""
    if half and (device or default_device()) == "cpu":
        raise click.UsageError("--half needs a GPU (float16 is not supported well on the CPU); drop --half")
    try:
        pipeline = load_pipeline(model, device, half)
    except FileNotFoundError as error:
        raise click.UsageError(str(error)) from error
    return StableDiffusionDenoiser(pipeline, guidance, negative_prompt)


@contextlib.contextmanager
def sampling_errors() -> Iterator[None]:
    """Turn a ValueError from sampling into a one-line click error instead of a traceback."""
    try:
        yield
    except ValueError as error:
        raise click.ClickException(str(error)) from None


def check_prompt(prompt: str, name: str = "prompt") -> str:
    """The prompt stripped, or a usage error when it is empty."""
    if not prompt or not prompt.strip():
        raise click.UsageError(f"the {name} is empty; give a text describing the image")
    return prompt.strip()


def check_size(height: int, width: int, factor: int) -> tuple[int, int]:
    """The latent size of an image, or a usage error when the image does not divide into latent pixels."""
    for name, value in (("height", height), ("width", width)):
        if value <= 0 or value % factor:
            raise click.UsageError(f"{name} {value} is not a positive multiple of {factor}; round it to one")
    return height // factor, width // factor


def check_panorama(height: int, width: int, window: int, stride: int, wrap: bool,
                   window_name: str = "--window") -> tuple[int, int]:
    """The latent size of a panorama, or a usage error when its size or window layout cannot be made."""
    latent_height, latent_width = check_size(height, width, 8)
    if window > min(latent_height, latent_width):
        raise click.UsageError(
            f"{window_name} {window} ({window * 8} px) is larger than the {width}x{height} image; use a smaller "
            f"{window_name} or a larger image"
        )
    try:
        spatial_windows(latent_height, latent_width, window, stride, wrap=wrap)
    except ValueError as error:
        raise click.UsageError(str(error)) from error
    return latent_height, latent_width


def check_out(path: Path) -> None:
    """A click error now, before the model loads, when no image can be written at `path`."""
    if path.suffix.lower() != ".png":
        raise click.UsageError(f"--out {path.name}: the image is written as PNG; give a .png file name")
    try:
        check_output_file(path)
    except ValueError as error:
        raise click.ClickException(str(error)) from None


def write_png(path: Path, image: np.ndarray) -> None:
    """Write an H×W×3 uint8 image as PNG via a temporary file, so a failure leaves no half-written file."""
    write_atomically(path, lambda temporary: iio.imwrite(temporary, image, extension=".png"))


def numbered(path: Path, index: int, count: int) -> Path:
    """`path` itself for a single image, else `stem-NNN.suffix` for image `index` of a batch."""
    return path if count == 1 else path.with_name(f"{path.stem}-{index:03d}{path.suffix}")


def read_prompts(path: Path) -> list[str]:
    """Prompts from a text file, one a line; blank lines and lines starting with # are skipped."""
    lines = [line.strip() for line in path.read_text().splitlines()]
    prompts = [line for line in lines if line and not line.startswith("#")]
    if not prompts:
        raise click.UsageError(f"{path} holds no prompts; write one prompt per line")
    return prompts
