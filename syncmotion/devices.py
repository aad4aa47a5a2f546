"""Which torch device a model runs on: the user's choice checked before any work, or the best one present."""

from __future__ import annotations

import torch

SUPPORTED = ("cpu", "cuda", "mps")


def default_device() -> str:
    """The device a model runs on by default: the first GPU when there is one."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_device(name: str | None) -> str:
    """The torch device named `name` ("auto" or None: the default), or a ValueError saying why it cannot be used."""
    if name is None or name == "auto":
        return default_device()
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise ValueError(f"{name!r} is not a torch device; use cpu, cuda, cuda:1 or mps") from None
    if device.type not in SUPPORTED:
        raise ValueError(f"models cannot run on the {device.type!r} device; use cpu, cuda or mps")
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(f"{name}: this machine has no CUDA GPU that torch can use (torch {torch.__version__}); use --device cpu")
        if device.index is not None and device.index >= count:
            choices = "cuda:0" + (f" to cuda:{count - 1}" if count > 1 else "")
            raise ValueError(f"{name}: this machine has {count} CUDA GPU(s), numbered from 0; use {choices}")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"{name}: Apple's MPS backend is not available here; use --device cpu")
    return str(device)
