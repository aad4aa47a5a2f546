"""The small text-to-motion model shipped in models/: MDM's architecture, MiniLM text, one safetensors file."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from syncmotion.devices import resolve_precision
from syncmotion.files import write_atomically
from syncmotion.motion.features import Normalizer
from syncmotion.resources import resource_dir

from .mdm import MotionBackend, diffusion_scheduler
from .mdm_network import POSITIONAL_KEYS, MDMConfig, MDMNetwork
from .text_prototypes import SnappedTextEncoder, TextPrototypes

DEFAULT_NAME = "embedded.safetensors"
FORMAT = "syncmotion.embedded/1"
PROTOTYPES_KEY = "text_prototypes"

# The embedded model samples DDIM-50 from pure noise (t = 999), not with its DDIM's "leading" spacing (t = 980 first):
# started at 980 it reads windows as near rest and long walks stop and go (slowest 2 s at 0.03 of the median pace,
# against 0.45; top-1 0.811 against 0.797 on the benchmark scripts; models/EMBEDDED.md).
EMBEDDED_SCHEDULER = "ddim"
# ... with 30 steps (or the file's own count where it is lower): in bfloat16 as good as 50 on the benchmark scripts
# (top-1 0.839 against 0.834 for float32 DDIM-50, skating 0.030 against 0.031, Peak Jerk 0.049 both), 1.7x fewer
# model calls; 25 lost 0.004 of top-1 and 20 lost 0.015 (models/EMBEDDED.md, "Solvers and steps").
EMBEDDED_STEPS = 30


def default_model_path() -> Path:
    """Where the shipped embedded model lives."""
    return resource_dir("models") / DEFAULT_NAME


def save_embedded(path: str | Path, network: MDMNetwork, mean: torch.Tensor, std: torch.Tensor, settings: dict[str, Any],
                  prototypes: TextPrototypes | None = None) -> None:
    """Write weights, normalization, settings (window, schedule, text encoder, recipe) and training texts to one file."""
    tensors = {k: v.detach().contiguous().cpu() for k, v in network.state_dict().items() if k not in POSITIONAL_KEYS}
    tensors["normalizer.mean"] = mean.detach().float().contiguous().cpu()
    tensors["normalizer.std"] = std.detach().float().contiguous().cpu()
    metadata = {"format": FORMAT, "config": json.dumps(network.config.to_dict()), "settings": json.dumps(settings)}
    if prototypes is not None:
        # float16 halves the file share of ~900 x 384 embeddings; they are renormalized on reading.
        tensors[PROTOTYPES_KEY] = prototypes.embeddings.detach().half().contiguous().cpu()
        metadata[PROTOTYPES_KEY] = json.dumps(prototypes.texts)
    write_atomically(path, lambda temporary: save_file(tensors, str(temporary), metadata=metadata))


def is_embedded_file(path: str | Path) -> bool:
    """Whether `path` is a safetensors file written by save_embedded."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if path.suffix != ".safetensors" or not path.is_file():
        return False
    try:
        with safe_open(str(path), framework="pt") as handle:
            return (handle.metadata() or {}).get("format") == FORMAT
    except (SafetensorError, OSError) as error:
        raise ValueError(f"{path} is not a readable safetensors file ({error}); pass a model file saved by syncmotion "
                         "or tools/convert_mdm.py") from None


def read_embedded(path: str | Path) -> tuple[MDMNetwork, torch.Tensor, torch.Tensor, dict[str, Any]]:
    """The network, mean, std and settings stored by save_embedded."""
    from safetensors import safe_open

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"no embedded model at {path}: reinstall syncmotion, train one with tools/train_embedded.py, "
            "or pass --model PATH/modelXXXXXXXXX.pt for an official MDM checkpoint"
        )
    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata() or {}
    if metadata.get("format") != FORMAT:
        raise ValueError(f"{path} is not a syncmotion embedded model (format {metadata.get('format')!r}, expected {FORMAT})")
    tensors = load_file(str(path))
    network = MDMNetwork(MDMConfig(**json.loads(metadata["config"])))
    mean, std = tensors.pop("normalizer.mean"), tensors.pop("normalizer.std")
    tensors.pop(PROTOTYPES_KEY, None)
    network.load_state_dict({**network.state_dict(), **tensors})
    return network.eval(), mean, std, json.loads(metadata["settings"])


def read_text_prototypes(path: str | Path) -> TextPrototypes | None:
    """The training texts and embeddings stored in an embedded model file, if it has them."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        texts = (handle.metadata() or {}).get(PROTOTYPES_KEY)
        if texts is None:
            return None
        return TextPrototypes(json.loads(texts), handle.get_tensor(PROTOTYPES_KEY))


def load_embedded(path: str | Path | None = None, device: str = "cpu", snap_text: bool = True,
                  precision: str = "auto") -> MotionBackend:
    """The embedded model (the shipped one by default) as a generation backend.

    With `snap_text`, prompts are read as the nearest wordings the model was trained on (when the file lists them).
    `precision` "auto" runs the network in bfloat16 on CPUs that do it natively (models/EMBEDDED.md, "Precision").
    """
    from .minilm import MiniLMTextEncoder

    path = Path(path) if path is not None else default_model_path()
    network, mean, std, settings = read_embedded(path)
    text_encoder = MiniLMTextEncoder(device=device, disk_cache=True)  # loads transformers on its first new text
    prototypes = read_text_prototypes(path) if snap_text else None
    model_steps = int(settings.get("sample_steps", 50))  # what its recipe sampled with: its own DDIM's step count
    return MotionBackend(
        network=network.to(device), normalizer=Normalizer(mean, std),
        text_encoder=SnappedTextEncoder(text_encoder, prototypes) if prototypes is not None else text_encoder,
        scheduler=diffusion_scheduler(settings["noise_schedule"], int(settings["diffusion_steps"])),
        window=int(settings["window"]), name=f"embedded:{path.name}", default_steps=min(EMBEDDED_STEPS, model_steps),
        model_steps=model_steps,
        default_guidance=float(settings.get("sample_guidance", 2.5)),
        default_scheduler=EMBEDDED_SCHEDULER, precision=resolve_precision(precision, device), info={"settings": settings},
    )


def unsnapped(backend: MotionBackend) -> MotionBackend:
    """The same backend reading prompts by their own sentence embeddings (no snapping to training wordings)."""
    encoder = backend.text_encoder
    return dataclasses.replace(backend, text_encoder=encoder.encoder) if isinstance(encoder, SnappedTextEncoder) else backend


def load_default(device: str = "cpu", precision: str = "auto") -> MotionBackend:
    """The shipped embedded model."""
    return load_embedded(None, device, precision=precision)
