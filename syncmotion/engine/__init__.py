"""The synchronized sampler and its strategies; it sees tensors, windows and a denoiser, nothing else."""

from .sampler import Denoiser, SampleResult, sample
from .strategies import (
    STRATEGIES, Handshake, Independent, Inpaint, MultiDiffusion, StepState, Strategy, SyncSDE, SyncTweedies, make_strategy,
)

__all__ = [
    "Denoiser", "SampleResult", "sample", "STRATEGIES", "Handshake", "Independent", "Inpaint", "MultiDiffusion", "StepState", "Strategy",
    "SyncSDE", "SyncTweedies", "make_strategy",
]
