"""Stable Diffusion as an engine backend: a diffusers checkpoint, its UNet with classifier-free guidance as the
denoiser, and tiled VAE decoding of the canvas."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from diffusers import DDIMScheduler, StableDiffusionPipeline
from diffusers.utils import logging as diffusers_logging
from transformers.utils import logging as transformers_logging

from ..devices import default_device

# Latent columns decoded on each side of a wrapped (360°) canvas so its left and right edges decode as neighbours.
WRAP_DECODE_PADDING = 8


@contextlib.contextmanager
def _quiet_loading() -> Iterator[None]:
    """Hide the libraries' loading progress bars and diffusers' warnings (install accelerate) while a pipeline loads."""
    verbosity = diffusers_logging.get_verbosity()
    bars = [(library, library.is_progress_bar_enabled()) for library in (diffusers_logging, transformers_logging)]
    diffusers_logging.set_verbosity_error()
    for library, _ in bars:
        library.disable_progress_bar()
    try:
        yield
    finally:
        # Put back what the caller had, so the bars and warnings of later calls are theirs to choose.
        diffusers_logging.set_verbosity(verbosity)
        for library, enabled in bars:
            if enabled:
                library.enable_progress_bar()


def load_pipeline(model: str, device: str | None = None, half: bool = False) -> StableDiffusionPipeline:
    """A diffusers Stable Diffusion pipeline from a local folder (or a hub id when online), safety checker off."""
    path = Path(model).expanduser()
    looks_local = path.exists() or model.startswith((".", "/", "~")) or model.count("/") != 1
    if looks_local and not path.is_dir():
        raise FileNotFoundError(f"model folder not found: {model}; pass a diffusers Stable Diffusion folder")
    if looks_local and not (path / "model_index.json").is_file():
        raise FileNotFoundError(
            f"{model} has no model_index.json; pass a diffusers Stable Diffusion folder (from save_pretrained)"
        )
    # Passed to the download too, so that it skips the safety checker's weights.
    no_checker = {"safety_checker": None, "requires_safety_checker": False}
    try:
        # A hub checkpoint is fetched before the quiet loading, so that its download still shows progress.
        folder = str(path) if looks_local else StableDiffusionPipeline.download(model, **no_checker)
        with _quiet_loading():
            pipeline = StableDiffusionPipeline.from_pretrained(
                folder, dtype=torch.float16 if half else torch.float32, **no_checker
            )
    except OSError as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise FileNotFoundError(f"cannot load Stable Diffusion model {model!r}: {first_line}") from error
    pipeline.set_progress_bar_config(disable=True)
    return pipeline.to(device or default_device())


def ddim_scheduler(pipeline: StableDiffusionPipeline) -> DDIMScheduler:
    """A DDIM scheduler with the checkpoint's training schedule and prediction type."""
    return DDIMScheduler.from_config(pipeline.scheduler.config)


class StableDiffusionDenoiser:
    """The UNet with classifier-free guidance, conditioned per window on a prompt (a string)."""

    def __init__(self, pipeline: StableDiffusionPipeline, guidance_scale: float = 7.5, negative_prompt: str = "") -> None:
        self.pipeline = pipeline
        self.guidance_scale = float(guidance_scale)
        self.negative_prompt = negative_prompt
        self.prediction_type: str = pipeline.scheduler.config.get("prediction_type", "epsilon")
        self.unet_calls = 0
        self._embeddings: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    @property
    def guided(self) -> bool:
        """Whether classifier-free guidance is on (it is for any scale above 1, as in diffusers)."""
        return self.guidance_scale > 1.0

    def embeddings(self, prompt: str) -> tuple[torch.Tensor, torch.Tensor]:
        """(prompt, negative prompt) text embeddings [1, tokens, dim], encoded once per prompt."""
        if prompt not in self._embeddings:
            with torch.inference_mode():
                positive, negative = self.pipeline.encode_prompt(
                    prompt, self.pipeline.device, 1, self.guided, self.negative_prompt if self.guided else None
                )
            self._embeddings[prompt] = (positive, negative)
        return self._embeddings[prompt]

    def prompt_of(self, cond: Any) -> str:
        """The prompt of a window's condition (a plain string here; richer conditions in subclasses)."""
        return cond

    def unet_output(self, latents: torch.Tensor, steps: torch.Tensor, context: torch.Tensor, conds: Sequence[Any]) -> torch.Tensor:
        """The UNet's prediction for the (guidance-doubled) batch; subclasses add inputs such as ControlNet residuals."""
        return self.pipeline.unet(latents, steps, encoder_hidden_states=context).sample

    def __call__(self, sample: torch.Tensor, timesteps: torch.Tensor, conds: Sequence[str]) -> torch.Tensor:
        """Guided model output for a batch of latent windows [B, 4, h, w]."""
        unet = self.pipeline.unet
        pairs = [self.embeddings(self.prompt_of(cond)) for cond in conds]
        positive = torch.cat([pair[0] for pair in pairs])
        latents = sample.to(unet.device, unet.dtype)
        steps = timesteps.to(unet.device)
        if self.guided:
            # Unconditional and conditional halves go through the UNet in one batched call.
            negative = torch.cat([pair[1] for pair in pairs])
            latents, steps, context = torch.cat([latents, latents]), torch.cat([steps, steps]), torch.cat([negative, positive])
        else:
            context = positive
        with torch.inference_mode():
            output = self.unet_output(latents, steps, context, conds)
        self.unet_calls += 1
        if self.guided:
            unconditional, conditional = output.chunk(2)
            output = unconditional + self.guidance_scale * (conditional - unconditional)
        return output.to(sample.device, sample.dtype)


def decode(pipeline: StableDiffusionPipeline, latents: torch.Tensor, wrap: bool = False) -> torch.Tensor:
    """Images [B, 3, H, W] in [0, 1] from latents [B, 4, h, w], decoded in blended tiles so memory stays bounded."""
    vae = pipeline.vae
    vae.enable_tiling()
    latents = latents.to(vae.device, vae.dtype) / vae.config.scaling_factor
    padding = min(WRAP_DECODE_PADDING, latents.shape[-1]) if wrap else 0
    if padding:
        latents = torch.cat([latents[..., -padding:], latents, latents[..., :padding]], dim=-1)
    with torch.inference_mode():
        image = vae.decode(latents).sample
    if padding:
        pixels = padding * pipeline.vae_scale_factor
        image = image[..., pixels:-pixels]
    return (image.float().cpu() / 2 + 0.5).clamp(0, 1)


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """An image [3, H, W] in [0, 1] as an H×W×3 uint8 array."""
    return (image.permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()


def encode(pipeline: StableDiffusionPipeline, images: torch.Tensor) -> torch.Tensor:
    """Latents [B, 4, h, w] of images [B, 3, H, W] in [0, 1]: the VAE posterior's mean, scaled as the UNet expects."""
    vae = pipeline.vae
    vae.enable_tiling()
    pixels = images.to(vae.device, vae.dtype) * 2 - 1
    with torch.inference_mode():
        latents = vae.encode(pixels).latent_dist.mode()
    return latents.float().cpu() * vae.config.scaling_factor


def from_uint8(image: np.ndarray) -> torch.Tensor:
    """An H×W×3 uint8 array as an image [3, H, W] in [0, 1] (the inverse of to_uint8)."""
    return torch.from_numpy(np.array(image)).permute(2, 0, 1).float() / 255
