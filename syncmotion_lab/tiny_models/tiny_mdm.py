"""Random MDM checkpoints, mean/std folders and CLIP text towers in the official layouts, for tests and benchmarks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import CLIPTextConfig, CLIPTextModelWithProjection

from syncmotion.backends.mdm_network import MDMNetwork

from .tiny_sd import tiny_tokenizer


def save_official_checkpoint(folder: Path, args: dict[str, Any], network: MDMNetwork, pe_length: int | None = None,
                             wrap: bool = True, name: str = "model000000000.pt") -> Path:
    """Save `network` as MDM's training code does: args.json + modelXXXXXXXXX.pt without CLIP keys."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "args.json").write_text(json.dumps(args))
    # Releases store positional tables of different lengths; loaders must not care.
    state = {k: v[:pe_length] if pe_length and k.endswith(".pe") else v for k, v in network.state_dict().items()}
    path = folder / name
    torch.save({"model": state, "model_avg": state} if wrap else state, path)
    return path


def save_identity_meta(folder: Path) -> Path:
    """A HumanML3D-style meta folder with Mean.npy = 0 and Std.npy = 1."""
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "Mean.npy", np.zeros(263, dtype=np.float32))
    np.save(folder / "Std.npy", np.ones(263, dtype=np.float32))
    return folder


def save_clip_text_model(folder: Path, hidden: int = 16, layers: int = 1, heads: int = 2, projection_dim: int = 512,
                         seed: int = 0) -> Path:
    """A random CLIP text tower with CLIP's 77-token context and a character tokenizer, saved with save_pretrained."""
    torch.manual_seed(seed)
    tokenizer = tiny_tokenizer()
    tokenizer.model_max_length = 77
    model = CLIPTextModelWithProjection(CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=4 * hidden, num_attention_heads=heads,
        num_hidden_layers=layers, max_position_embeddings=77, projection_dim=projection_dim,
        bos_token_id=0, eos_token_id=1, pad_token_id=1,
    ))
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
