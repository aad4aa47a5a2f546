"""NumPy-or-torch inputs for the motion math: work in torch, hand back the caller's type, check joint shapes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .skeleton import NUM_JOINTS

if TYPE_CHECKING:  # imported where a tensor is made: checking and reading motion files needs no torch
    import torch


def to_tensor(data: np.ndarray | torch.Tensor) -> tuple[torch.Tensor, bool]:
    """A float32 tensor view of `data`, and whether it came as NumPy."""
    import torch

    if isinstance(data, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(data, dtype=np.float32)), True
    if not isinstance(data, torch.Tensor):
        raise TypeError(f"expected a NumPy array or a torch tensor, got {type(data).__name__}")
    return data.float(), False


def like_input(result: torch.Tensor, was_numpy: bool) -> np.ndarray | torch.Tensor:
    """`result` as NumPy when the input was NumPy, else unchanged."""
    return result.numpy() if was_numpy else result


def check_joints(positions: np.ndarray | torch.Tensor, minimum_frames: int) -> None:
    """Raise a ValueError unless `positions` is [..., T, 22, 3] with at least `minimum_frames` frames."""
    if positions.ndim < 3 or positions.shape[-2:] != (NUM_JOINTS, 3):
        raise ValueError(f"joint positions must be shaped [..., T, 22, 3], got {tuple(positions.shape)}")
    if positions.shape[-3] < minimum_frames:
        raise ValueError(f"need at least {minimum_frames} frames of joint positions, got {positions.shape[-3]}")


def check_finite(positions: np.ndarray | torch.Tensor, purpose: str) -> None:
    """Raise a ValueError naming `purpose` when `positions` holds NaN or infinite values."""
    finite = np.isfinite(positions).all() if isinstance(positions, np.ndarray) else positions.isfinite().all()
    if not bool(finite):
        raise ValueError(f"{purpose} needs finite joint positions; this motion has NaN or infinite values")
