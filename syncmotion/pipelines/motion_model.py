"""What long-motion generation needs from a text-to-motion model; the embedded model and MDM checkpoints provide it."""

from __future__ import annotations

from typing import Any, Protocol

import torch

from syncmotion.engine import Denoiser


class FeatureNormalizer(Protocol):
    """Maps the model's normalized features back to HumanML3D features (and HumanML3D features to them)."""

    def normalize(self, features: torch.Tensor) -> torch.Tensor:
        """Features [..., 263] as the model sees them."""

    def denormalize(self, features: torch.Tensor) -> torch.Tensor:
        """Features [..., 263] in HumanML3D units."""


class MotionModel(Protocol):
    """A text-to-motion diffusion model as the long-motion pipeline sees it."""

    name: str
    fps: float
    window: int  # the most frames it makes at once
    default_steps: int  # steps of its default sampling
    model_steps: int  # steps with its own scheduler ("model")
    default_guidance: float
    default_scheduler: str  # "model" (its own scheduler) or a solver of engine.schedulers by name
    precision: str  # how the network runs: "float32" or "bfloat16"
    scheduler: Any  # a diffusers scheduler over the model's training schedule
    normalizer: FeatureNormalizer
    network: torch.nn.Module

    def denoiser(self, guidance: float | None = None) -> Denoiser:
        """The engine's view of the model at a guidance scale (None: its default)."""
