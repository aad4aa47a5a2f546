"""The synchronized sampler, its strategies and window layouts; it sees tensors, windows and a denoiser, nothing else."""

from .sampler import Denoiser, SampleResult, sample
from .strategies import (
    STRATEGIES, Handshake, Independent, Inpaint, MultiDiffusion, PrecisionTweedies, StepState, Strategy, SyncSDE, SyncTweedies,
    make_strategy, register_strategy, strategy_from_options,
)
from .windows import CropLayout, Layout, spatial_windows, temporal_windows, temporal_windows_at

__all__ = [
    "Denoiser", "SampleResult", "sample", "STRATEGIES", "Handshake", "Independent", "Inpaint", "MultiDiffusion",
    "PrecisionTweedies", "StepState", "Strategy", "SyncSDE", "SyncTweedies", "make_strategy", "register_strategy",
    "strategy_from_options", "CropLayout", "Layout", "spatial_windows", "temporal_windows", "temporal_windows_at",
]
