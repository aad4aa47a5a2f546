"""Text encoders that embed each distinct prompt once per session."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import torch


class CachedTextEncoder(ABC):
    """Embeddings [B, dim] for prompts, computed once per distinct text in chunks and then looked up."""

    dim: int
    device: torch.device
    chunk = 64

    def __init__(self) -> None:
        self.cache: dict[str, torch.Tensor] = {}

    @abstractmethod
    def _encode_new(self, texts: list[str]) -> torch.Tensor:
        """Embeddings of texts not seen before."""

    def __call__(self, texts: Sequence[str]) -> torch.Tensor:
        """Embeddings [len(texts), dim] in input order."""
        new = sorted({text for text in texts if text not in self.cache})
        for start in range(0, len(new), self.chunk):
            part = new[start : start + self.chunk]
            for text, embedding in zip(part, self._encode_new(part)):
                self.cache[text] = embedding
        if not texts:
            return torch.zeros(0, self.dim, device=self.device)
        return torch.stack([self.cache[text] for text in texts])
