"""The image tasks on the engine: a Stable Diffusion denoiser sampled over a layout (panoramas, masks, anagrams)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from syncmotion.backends.stable_diffusion import StableDiffusionDenoiser, ddim_scheduler, decode, to_uint8
from syncmotion.engine import SampleResult, Strategy, make_strategy, sample
from syncmotion.engine.windows import Layout, spatial_windows


@dataclass(frozen=True)
class ImageSettings:
    """How the windows of an image task are sampled."""

    strategy: Strategy = field(default_factory=lambda: make_strategy("syncsde"))
    steps: int = 50
    seed: int = 0
    max_batch: int | None = None  # at most this many windows per UNet call
    progress: bool = True


def sample_layout(denoiser: StableDiffusionDenoiser, layout: Layout, prompts: Sequence[str],
                  settings: ImageSettings = ImageSettings(), noise: torch.Tensor | None = None) -> SampleResult:
    """Run the engine with the checkpoint's DDIM schedule over `layout`, one prompt per window, windows pasted.

    `noise` (shaped like the canvas) replaces the seeded starting noise, e.g. with a DDIM-inverted x_T.
    """
    return sample(
        denoiser, ddim_scheduler(denoiser.pipeline), layout, list(prompts),
        latent_shape=(denoiser.pipeline.unet.config.in_channels,), strategy=settings.strategy, steps=settings.steps,
        generator=torch.Generator().manual_seed(settings.seed), max_batch=settings.max_batch, stitch="paste",
        progress=settings.progress, noise=noise,
    )


def panorama_latents(denoiser: StableDiffusionDenoiser, prompt: str, latent_height: int, latent_width: int,
                     window: int = 64, stride: int = 16, wrap: bool = False,
                     settings: ImageSettings = ImageSettings()) -> SampleResult:
    """A wide latent canvas: windows in raster order, noise cropped from one canvas, pasted in order at the end."""
    layout = spatial_windows(latent_height, latent_width, window, stride, wrap=wrap)
    return sample_layout(denoiser, layout, [prompt] * layout.num_windows, settings)


@dataclass(frozen=True)
class Panorama:
    """A wide image (H×W×3 uint8) and how it was made."""

    image: np.ndarray
    windows: int
    model_calls: int


def panorama_image(denoiser: StableDiffusionDenoiser, prompt: str, latent_height: int, latent_width: int,
                   window: int = 64, stride: int = 16, wrap: bool = False,
                   settings: ImageSettings = ImageSettings()) -> Panorama:
    """A wide image for `prompt`: the panorama's latents decoded."""
    result = panorama_latents(denoiser, prompt, latent_height, latent_width, window, stride, wrap, settings)
    image = to_uint8(decode(denoiser.pipeline, result.canvas, wrap=wrap)[0])
    return Panorama(image, result.windows.shape[1], result.model_calls)
