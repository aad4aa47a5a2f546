"""A BERT encoder's forward pass in plain torch, for sentence embeddings without importing transformers.

transformers' BertModel is the reference (tests/test_text_cache.py compares the two). Its import took 2.4 s of the
3.5 s that a prompt new to the embedded model costs on a 2-core CPU (it pulls in torch.distributed, torch._dynamo,
sympy and scipy.optimize), for a forward pass of some forty lines. The weights are read from the model folder's
safetensors file and the text is split by its tokenizer.json with `tokenizers`, the library transformers' own fast
tokenizer uses.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn


# transformers' BertConfig defaults for the fields a config.json may leave out.
_DEFAULTS = {"intermediate_size": 3072, "max_position_embeddings": 512, "type_vocab_size": 2, "layer_norm_eps": 1e-12}


@dataclass(frozen=True)
class BertConfig:
    """The fields of a BERT config.json that the forward pass uses."""

    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int
    type_vocab_size: int
    layer_norm_eps: float

    @classmethod
    def read(cls, path: Path) -> BertConfig:
        """The config of the model folder `path`; a ValueError one-liner for one this encoder does not run."""
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
        if config.get("model_type") != "bert" or config.get("hidden_act", "gelu") != "gelu" or \
                config.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError(f"{path / 'config.json'} is not a BERT model with GELU and absolute positions")
        fields = {name: config.get(name, _DEFAULTS.get(name)) for name in cls.__dataclass_fields__}
        missing = [name for name, value in fields.items() if value is None]
        if missing:
            raise ValueError(f"{path / 'config.json'} lacks a BERT size: {', '.join(missing)}")
        return cls(**fields)


class _Layer(nn.Module):
    """One encoder layer, its parameters named as BertModel's."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        size, heads = config.hidden_size, config.num_attention_heads
        self.heads = heads
        self.attention = nn.ModuleDict({
            "self": nn.ModuleDict({name: nn.Linear(size, size) for name in ("query", "key", "value")}),
            "output": nn.ModuleDict({"dense": nn.Linear(size, size), "LayerNorm": nn.LayerNorm(size, config.layer_norm_eps)}),
        })
        self.intermediate = nn.ModuleDict({"dense": nn.Linear(size, config.intermediate_size)})
        self.output = nn.ModuleDict({"dense": nn.Linear(config.intermediate_size, size),
                                     "LayerNorm": nn.LayerNorm(size, config.layer_norm_eps)})

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        batch, length, size = hidden.shape
        projections = self.attention["self"]

        def heads(name: str) -> torch.Tensor:
            return projections[name](hidden).view(batch, length, self.heads, size // self.heads).transpose(1, 2)

        context = nn.functional.scaled_dot_product_attention(heads("query"), heads("key"), heads("value"), attn_mask=mask,
                                                             scale=1 / math.sqrt(size // self.heads))
        attended = self.attention["output"]
        hidden = attended["LayerNorm"](attended["dense"](context.transpose(1, 2).reshape(batch, length, size)) + hidden)
        expanded = nn.functional.gelu(self.intermediate["dense"](hidden))
        return self.output["LayerNorm"](self.output["dense"](expanded) + hidden)


class BertEncoder(nn.Module):
    """BertModel's last hidden state [B, L, H] for token ids and their attention mask (1: a token, 0: padding)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.embeddings = nn.ModuleDict({
            "word_embeddings": nn.Embedding(config.vocab_size, config.hidden_size),
            "position_embeddings": nn.Embedding(config.max_position_embeddings, config.hidden_size),
            "token_type_embeddings": nn.Embedding(config.type_vocab_size, config.hidden_size),
            "LayerNorm": nn.LayerNorm(config.hidden_size, config.layer_norm_eps),
        })
        self.encoder = nn.ModuleDict({"layer": nn.ModuleList(_Layer(config) for _ in range(config.num_hidden_layers))})

    def forward(self, ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        embeddings = self.embeddings
        positions = torch.arange(ids.shape[1], device=ids.device)
        hidden = (embeddings["word_embeddings"](ids) + embeddings["token_type_embeddings"](torch.zeros_like(ids))
                  + embeddings["position_embeddings"](positions)[None])
        hidden = embeddings["LayerNorm"](hidden)
        # Padding is left out of every token's attention (as BertModel's mask does), and pooled out by the caller.
        mask = attention_mask[:, None, None, :].bool()
        for layer in self.encoder["layer"]:
            hidden = layer(hidden, mask)
        return hidden

    @classmethod
    def load(cls, path: Path, device: torch.device) -> BertEncoder:
        """The encoder of the model folder `path` (config.json and model.safetensors), in evaluation mode."""
        from safetensors.torch import load_file

        model = cls(BertConfig.read(path))
        weights = load_file(path / "model.safetensors", device=str(device))
        # Keys as BertModel saves them; a checkpoint of a BERT with a head prefixes them with "bert.".
        weights = {key.removeprefix("bert."): value for key, value in weights.items()}
        wanted = model.state_dict()
        missing = sorted(set(wanted) - set(weights))
        if missing:
            raise ValueError(f"{path / 'model.safetensors'} lacks {len(missing)} BERT weights (e.g. {missing[0]})")
        model.load_state_dict({key: weights[key] for key in wanted})
        return model.eval().to(device)
