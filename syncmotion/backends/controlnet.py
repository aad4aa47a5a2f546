"""Stable Diffusion with a ControlNet (depth): each window is conditioned on a prompt and a control image."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from diffusers import ControlNetModel, StableDiffusionPipeline

from .stable_diffusion import StableDiffusionDenoiser, _quiet_loading


@dataclass(frozen=True)
class ControlledPrompt:
    """A window's condition: its prompt and its control image [3, H, W] in [0, 1] at the image's pixel size."""

    prompt: str
    control: torch.Tensor


def load_controlnet(folder: str, pipeline: StableDiffusionPipeline) -> ControlNetModel:
    """A diffusers ControlNet from a local folder that fits `pipeline`'s UNet, or a FileNotFoundError/ValueError one-liner."""
    path = Path(folder).expanduser()
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"{folder} is not a diffusers ControlNet folder (no config.json); pass one saved "
                                "with save_pretrained, e.g. a depth ControlNet for SD 1.5")
    try:
        with _quiet_loading():
            controlnet = ControlNetModel.from_pretrained(str(path), dtype=pipeline.unet.dtype)
    except (OSError, ValueError, KeyError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise FileNotFoundError(f"cannot load ControlNet {folder}: {first}") from error
    unet = pipeline.unet.config
    mine = controlnet.config
    if mine.cross_attention_dim != unet.cross_attention_dim or tuple(mine.block_out_channels) != tuple(unet.block_out_channels):
        raise ValueError(f"ControlNet {folder} does not fit the model (cross-attention {mine.cross_attention_dim} vs "
                         f"{unet.cross_attention_dim}, blocks {tuple(mine.block_out_channels)} vs "
                         f"{tuple(unet.block_out_channels)}); use a ControlNet trained for this Stable Diffusion version")
    return controlnet.to(pipeline.device)


class ControlNetDenoiser(StableDiffusionDenoiser):
    """The guided UNet with ControlNet residuals; windows are conditioned on ControlledPrompt."""

    def __init__(self, pipeline: StableDiffusionPipeline, controlnet: ControlNetModel, guidance_scale: float = 7.5,
                 negative_prompt: str = "", conditioning_scale: float = 1.0) -> None:
        super().__init__(pipeline, guidance_scale, negative_prompt)
        self.controlnet = controlnet
        self.conditioning_scale = float(conditioning_scale)

    def prompt_of(self, cond: Any) -> str:
        """The prompt of a ControlledPrompt."""
        return cond.prompt

    def unet_output(self, latents: torch.Tensor, steps: torch.Tensor, context: torch.Tensor, conds: Sequence[Any]) -> torch.Tensor:
        """The UNet's prediction with the ControlNet's residuals for each window's control image."""
        control = torch.stack([cond.control for cond in conds]).to(latents.device, latents.dtype)
        if self.guided:
            # Both halves of the guidance batch see the control image, as diffusers' ControlNet pipeline does.
            control = torch.cat([control, control])
        down, middle = self.controlnet(latents, steps, encoder_hidden_states=context, controlnet_cond=control,
                                       conditioning_scale=self.conditioning_scale, return_dict=False)
        return self.pipeline.unet(latents, steps, encoder_hidden_states=context, down_block_additional_residuals=down,
                                  mid_block_additional_residual=middle).sample
