"""An inverted DDIM path on disk: safetensors (tensors and text metadata, nothing that runs code when read)."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from syncmotion.engine.inversion import Inversion
from syncmotion.files import write_atomically

FORMAT = "syncmotion-ddim-inversion"
VERSION = "1"


def save_inversion(path: Path, inversion: Inversion, source: str, image_size: tuple[int, int]) -> None:
    """Write the path's states and timesteps with the source prompt and the image size (width, height) it came from."""
    metadata = {"format": FORMAT, "version": VERSION, "source_prompt": source, "image_size": json.dumps(list(image_size))}
    tensors = {"states": inversion.states.contiguous(), "timesteps": inversion.timesteps.contiguous()}
    write_atomically(path, lambda temporary: save_file(tensors, str(temporary), metadata=metadata))


def load_inversion(path: Path) -> tuple[Inversion, str, tuple[int, int]]:
    """(inversion, source prompt, image size (width, height)) from a file save_inversion wrote; ValueError otherwise."""
    try:
        tensors = load_file(str(path))
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
    except (OSError, SafetensorError, ValueError) as error:
        raise ValueError(f"cannot read the inversion file {path}: {str(error).splitlines()[0] if str(error) else error}"
                         ) from error
    if metadata.get("format") != FORMAT:
        raise ValueError(f"{path} is not a syncmotion inversion file; make one with --save-inversion")
    if metadata.get("version") != VERSION:
        raise ValueError(f"{path} is inversion format version {metadata.get('version')!r}; this syncmotion reads "
                         f"version {VERSION}, so invert the image again")
    states, timesteps = tensors.get("states"), tensors.get("timesteps")
    try:
        size = tuple(int(value) for value in json.loads(metadata["image_size"]))
    except (KeyError, ValueError, TypeError):
        size = ()
    if (states is None or timesteps is None or states.dim() != 5 or timesteps.dim() != 1 or len(size) != 2
            or states.shape[0] != timesteps.numel() + 1 or "source_prompt" not in metadata):
        raise ValueError(f"{path} is damaged (missing or misshapen states, timesteps or metadata); invert the image again")
    if not bool(torch.isfinite(states).all()):
        raise ValueError(f"{path} holds non-finite latents; invert the image again")
    return Inversion(states.float(), timesteps.long(), 0), metadata["source_prompt"], (size[0], size[1])
