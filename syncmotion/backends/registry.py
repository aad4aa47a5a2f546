"""Which backend loads a `--model` file: each registered loader says whether a file is its kind, and loads it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .embedded import is_embedded_file, load_embedded
from .mdm import MotionBackend, load_mdm


@dataclass(frozen=True)
class ModelOptions:
    """What the command line says about loading a motion model, beyond its file."""

    device: str = "cpu"
    meta: Path | None = None  # MDM: folder with HumanML3D's Mean.npy and Std.npy
    clip: Path | None = None  # MDM: CLIP ViT-B/32
    snap_text: bool = True  # embedded model: read prompts as the nearest trained wordings
    precision: str = "auto"  # devices.PRECISIONS: how the network runs


@dataclass(frozen=True)
class MotionLoader:
    """One kind of motion model file: how to recognise it and how to load it."""

    name: str
    accepts: Callable[[Path], bool]
    load: Callable[[Path, ModelOptions], MotionBackend]


LOADERS: list[MotionLoader] = []


def register_motion_loader(loader: MotionLoader) -> None:
    """Let `--model` load files that `loader` accepts; loaders are asked in the order they were registered."""
    LOADERS.append(loader)


def _load_mdm(path: Path, options: ModelOptions) -> MotionBackend:
    missing = [name for name, value in (("--meta DIR (HumanML3D Mean.npy/Std.npy)", options.meta),
                                        ("--clip PATH (CLIP ViT-B/32: transformers folder or OpenAI ViT-B-32.pt)", options.clip))
               if value is None]
    if options.meta is None or options.clip is None:
        raise ValueError(f"an MDM checkpoint also needs {' and '.join(missing)}; see the README, section 'MDM checkpoints'")
    return load_mdm(path, options.meta, options.clip, options.device, options.precision)


def _load_embedded(path: Path | None, options: ModelOptions) -> MotionBackend:
    return load_embedded(path, options.device, options.snap_text, options.precision)


register_motion_loader(MotionLoader("embedded", is_embedded_file, _load_embedded))
register_motion_loader(MotionLoader("mdm", lambda path: path.suffix in (".pt", ".safetensors"), _load_mdm))


def load_motion_model(path: Path | None, options: ModelOptions = ModelOptions()) -> MotionBackend:
    """The motion model in `path` (the shipped embedded model when None), loaded by the first loader that accepts it."""
    if path is None:
        return _load_embedded(None, options)
    for loader in LOADERS:
        if loader.accepts(path):
            return loader.load(path, options)
    raise ValueError(f"--model {path} is not an MDM checkpoint: pass PATH/modelXXXXXXXXX.pt "
                     f"(known model files: {', '.join(loader.name for loader in LOADERS)})")
