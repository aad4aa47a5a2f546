"""CLIP ViT-B/32 text embeddings as MDM computes them, through transformers, cached per prompt."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from .text_cache import CachedTextEncoder

# MDM cuts HumanML3D prompts to 20 tokens plus start and end, then zero-pads to CLIP's context.
MDM_TEXT_TOKENS = 20


class CLIPTextEncoder(CachedTextEncoder):
    """Projected CLIP text embeddings [B, projection_dim] with MDM's tokenization."""

    def __init__(self, path: str | Path, device: str | torch.device = "cpu", max_text_tokens: int = MDM_TEXT_TOKENS) -> None:
        from transformers import CLIPTextModelWithProjection, CLIPTokenizer

        super().__init__()

        folder = Path(path)
        if not (folder / "config.json").exists():
            raise FileNotFoundError(
                f"no CLIP model at {folder}: --clip must be a folder with a transformers CLIP model "
                "(config.json, weights, vocab.json, merges.txt), e.g. a local copy of openai/clip-vit-base-patch32"
            )
        self.tokenizer = CLIPTokenizer.from_pretrained(folder)
        self.model = CLIPTextModelWithProjection.from_pretrained(folder).eval().to(device)
        self.device = torch.device(device)
        self.width = self.model.config.max_position_embeddings
        self.context_length = min(max_text_tokens + 2, self.width)
        self.dim = self.model.config.projection_dim

    def tokenize(self, texts: Sequence[str]) -> torch.Tensor:
        """Token ids [B, 77]: start, at most 20 text tokens, end, then zeros up to CLIP's context (MDM's padding)."""
        ids = self.tokenizer(list(texts), max_length=self.context_length, truncation=True)["input_ids"]
        tokens = torch.zeros(len(ids), self.width, dtype=torch.long)
        for row, sequence in enumerate(ids):
            tokens[row, : len(sequence)] = torch.tensor(sequence)
        return tokens

    @torch.inference_mode()
    def _encode_new(self, texts: list[str]) -> torch.Tensor:
        tokens = self.tokenize(texts).to(self.device)
        # No attention mask on purpose: CLIP's causal mask already hides the zero padding after the end token.
        return self.model(input_ids=tokens).text_embeds.float()
