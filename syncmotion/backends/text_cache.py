"""Text encoders that embed each distinct prompt once per session, and optionally once per machine (on disk).

The disk cache (EmbeddingStore) keeps what a text model computed for a batch of texts, so a later run with the
same prompts neither loads the model nor runs it. One safetensors file per batch, named by a hash of the model's
identity and the batch's texts: a text model's output for a text depends in its last bits on the batch it was
padded with, so a batch is stored and reused whole, and a run reads exactly the numbers it would have computed.
A model file, torch or transformers version, device or CPU kind that differs gives other names (old files are
left alone: delete the folder to reclaim them). Entries are checked on reading (format, identity, texts, shape,
finite values); one that fails is ignored and written again. Never pickle: safetensors holds only tensors and text.

Where: $SYNCMOTION_CACHE_DIR, else $XDG_CACHE_HOME/syncmotion, else ~/.cache/syncmotion. SYNCMOTION_CACHE=0 turns
it off. A cache that cannot be written (read-only home, full disk) is skipped silently: it only saves time.
"""

from __future__ import annotations

import hashlib
import json
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path

import torch

from syncmotion.files import write_atomically

CACHE_ENV = "SYNCMOTION_CACHE"
CACHE_DIR_ENV = "SYNCMOTION_CACHE_DIR"
STORE_FORMAT = "syncmotion.text-embeddings/1"
_OFF = ("0", "off", "false", "no")


def cache_root() -> Path | None:
    """The folder syncmotion caches in, or None when SYNCMOTION_CACHE=0 turns caching off."""
    if os.environ.get(CACHE_ENV, "").strip().lower() in _OFF:
        return None
    if os.environ.get(CACHE_DIR_ENV):
        return Path(os.environ[CACHE_DIR_ENV])
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    # The XDG spec says a relative XDG_CACHE_HOME is invalid and to be ignored.
    return (Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache") / "syncmotion"


class EmbeddingStore:
    """Embeddings of batches of texts by one model, on disk: one safetensors file per batch."""

    def __init__(self, folder: Path, identity: Callable[[], str]) -> None:
        # The identity (model files, library versions, device) is worked out on first use: a run that needs no
        # embedding (every prompt a training text) should not pay for it.
        self.folder = folder
        self._identity = identity

    @cached_property
    def identity(self) -> str:
        """What decides the model's numbers besides the texts (JSON)."""
        return self._identity()

    def path(self, texts: Sequence[str]) -> Path:
        """Where the embeddings of exactly this batch of texts are kept."""
        key = hashlib.sha256(json.dumps([self.identity, list(texts)]).encode()).hexdigest()
        model = hashlib.sha256(self.identity.encode()).hexdigest()[:16]
        return self.folder / model / f"{key}.safetensors"

    def get(self, texts: Sequence[str]) -> torch.Tensor | None:
        """The stored embeddings [len(texts), dim] of this batch, or None when absent or unusable."""
        from safetensors import SafetensorError, safe_open

        path = self.path(texts)
        try:
            with safe_open(str(path), framework="pt") as handle:
                metadata = handle.metadata() or {}
                if (metadata.get("format") != STORE_FORMAT or metadata.get("identity") != self.identity
                        or json.loads(metadata.get("texts", "null")) != list(texts)):
                    return None
                embeddings = handle.get_tensor("embeddings")
        except (OSError, SafetensorError, ValueError, KeyError):  # absent, cut short, garbled: compute it again
            return None
        if embeddings.ndim != 2 or len(embeddings) != len(texts) or not torch.isfinite(embeddings).all():
            return None
        return embeddings

    def put(self, texts: Sequence[str], embeddings: torch.Tensor) -> None:
        """Keep this batch's embeddings; a folder that cannot be written is skipped (the cache only saves time)."""
        from safetensors import SafetensorError
        from safetensors.torch import save_file

        metadata = {"format": STORE_FORMAT, "identity": self.identity, "texts": json.dumps(list(texts))}
        tensors = {"embeddings": embeddings.detach().contiguous().cpu()}
        try:
            write_atomically(self.path(texts), lambda temporary: save_file(tensors, str(temporary), metadata=metadata))
        except (OSError, SafetensorError):
            pass


class CachedTextEncoder(ABC):
    """Embeddings [B, dim] for prompts, computed once per distinct text in chunks and then looked up.

    With a `store`, each chunk of new texts is looked up on disk before it is computed, and kept there after.
    """

    dim: int
    device: torch.device
    chunk = 64

    def __init__(self, store: EmbeddingStore | None = None) -> None:
        self.cache: dict[str, torch.Tensor] = {}
        self.store = store

    @abstractmethod
    def _encode_new(self, texts: list[str]) -> torch.Tensor:
        """Embeddings of texts not seen before."""

    def _stored_or_encoded(self, texts: list[str]) -> torch.Tensor:
        stored = self.store.get(texts) if self.store is not None else None
        if stored is not None and stored.shape[1] == self.dim:
            return stored.to(self.device)
        embeddings = self._encode_new(texts)
        if self.store is not None:
            self.store.put(texts, embeddings)
        return embeddings

    def __call__(self, texts: Sequence[str]) -> torch.Tensor:
        """Embeddings [len(texts), dim] in input order."""
        new = sorted({text for text in texts if text not in self.cache})
        for start in range(0, len(new), self.chunk):
            part = new[start : start + self.chunk]
            for text, embedding in zip(part, self._stored_or_encoded(part)):
                self.cache[text] = embedding
        if not texts:
            return torch.zeros(0, self.dim, device=self.device)
        return torch.stack([self.cache[text] for text in texts])
