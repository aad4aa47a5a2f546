"""The corpus file: clips of different lengths stored concatenated with offsets in one .npz."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from syncmotion.files import write_atomically
from syncmotion_lab.corpus.generator import Clip


def _ragged(arrays: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    return np.concatenate(arrays), np.concatenate([[0], np.cumsum([len(a) for a in arrays])]).astype(np.int64)


@dataclass
class Corpus:
    """Clips as loaded from a corpus file; features (and their mean/std) only when the file has them."""

    positions: list[np.ndarray]
    texts: list[str]
    actions: list[str]
    params: list[dict[str, Any]]
    meta: dict[str, Any]
    features: list[np.ndarray] | None = None
    mean: np.ndarray | None = None
    std: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.positions)

    def clip(self, index: int) -> Clip:
        """The index-th clip."""
        return Clip(self.positions[index], self.actions[index], self.params[index], self.texts[index])


def write_corpus(path: str | Path, clips: list[Clip], meta: dict[str, Any],
                 features: list[np.ndarray] | None = None) -> None:
    """Write clips (and per-clip feature arrays with their mean and std) to `path` atomically."""
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"corpus file must end in .npz, got {path}")
    positions, offsets = _ragged([c.positions for c in clips])
    arrays: dict[str, np.ndarray] = {
        "positions": positions,
        "offsets": offsets,
        "texts": np.array([c.text for c in clips]),
        "actions": np.array([c.action for c in clips]),
        "params": np.array([json.dumps(c.params, sort_keys=True) for c in clips]),
        "meta": np.array(json.dumps(meta, sort_keys=True)),
    }
    if features is not None:
        stacked, feature_offsets = _ragged(features)
        arrays.update(features=stacked, feature_offsets=feature_offsets, mean=stacked.mean(0), std=stacked.std(0))
    write_atomically(path, lambda temporary: np.savez_compressed(temporary, **arrays))


def read_corpus(path: str | Path) -> Corpus:
    """Load a corpus file written by write_corpus."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no corpus file at {path}; make one with tools/make_corpus.py")
    with np.load(path) as data:
        offsets = data["offsets"]
        positions = np.split(data["positions"], offsets[1:-1])
        corpus = Corpus(positions=positions, texts=[str(t) for t in data["texts"]],
                        actions=[str(a) for a in data["actions"]],
                        params=[json.loads(str(p)) for p in data["params"]], meta=json.loads(str(data["meta"])))
        if "features" in data:
            corpus.features = np.split(data["features"], data["feature_offsets"][1:-1])
            corpus.mean, corpus.std = data["mean"], data["std"]
    return corpus
