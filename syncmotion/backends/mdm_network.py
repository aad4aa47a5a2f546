"""MDM's transformer-encoder text-to-motion network, with the official state-dict names and shapes."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class MDMConfig:
    """The settings that shape an MDM `trans_enc` network (names as in MDM's args.json where they exist)."""

    njoints: int = 263
    nfeats: int = 1
    latent_dim: int = 512
    ff_size: int = 1024
    layers: int = 8
    heads: int = 4
    dropout: float = 0.1
    activation: str = "gelu"
    text_dim: int = 512
    cond_mask_prob: float = 0.1
    max_positions: int = 5000

    def to_dict(self) -> dict:
        """The settings as a JSON-friendly dict."""
        return asdict(self)


def sinusoidal_table(length: int, dim: int) -> torch.Tensor:
    """The fixed sinusoidal code MDM uses for frames and diffusion steps, shaped [length, 1, dim]."""
    position = torch.arange(length, dtype=torch.float32)[:, None]
    frequencies = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim)
    table[:, 0::2] = torch.sin(position * frequencies)
    table[:, 1::2] = torch.cos(position * frequencies)
    return table[:, None, :]


class PositionalEncoding(nn.Module):
    """Adds the sinusoidal code of each position to a sequence-first batch."""

    def __init__(self, dim: int, dropout: float, max_positions: int) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("pe", sinusoidal_table(max_positions, dim))

    def forward(self, sequence: torch.Tensor) -> torch.Tensor:
        """sequence [L, B, D] plus the code of positions 0..L-1."""
        return self.dropout(sequence + self.pe[: sequence.shape[0]])


class TimestepEmbedder(nn.Module):
    """Diffusion step -> one token: an MLP over the sinusoidal code of the step."""

    def __init__(self, dim: int, positional: PositionalEncoding) -> None:
        super().__init__()
        # Shared on purpose: the official state dict stores the table under this module too.
        self.sequence_pos_encoder = positional
        self.time_embed = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, timesteps: torch.Tensor) -> torch.Tensor:
        """timesteps [B] -> [1, B, D]."""
        return self.time_embed(self.sequence_pos_encoder.pe[timesteps.long()]).permute(1, 0, 2)


class InputProcess(nn.Module):
    """Frames [B, J, F, T] -> tokens [T, B, D]."""

    def __init__(self, features: int, dim: int) -> None:
        super().__init__()
        self.poseEmbedding = nn.Linear(features, dim)

    def forward(self, motion: torch.Tensor) -> torch.Tensor:
        """Embed each frame."""
        batch, joints, feats, frames = motion.shape
        return self.poseEmbedding(motion.permute(3, 0, 1, 2).reshape(frames, batch, joints * feats))


class OutputProcess(nn.Module):
    """Tokens [T, B, D] -> frames [B, J, F, T]."""

    def __init__(self, dim: int, njoints: int, nfeats: int) -> None:
        super().__init__()
        self.njoints, self.nfeats = njoints, nfeats
        self.poseFinal = nn.Linear(dim, njoints * nfeats)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Project each token back to a frame."""
        frames, batch, _ = tokens.shape
        return self.poseFinal(tokens).reshape(frames, batch, self.njoints, self.nfeats).permute(1, 2, 3, 0)


class MDMNetwork(nn.Module):
    """x_t, t and a text embedding -> predicted clean motion x0 (MDM's `trans_enc` architecture)."""

    def __init__(self, config: MDMConfig) -> None:
        super().__init__()
        self.config = config
        dim = config.latent_dim
        self.input_process = InputProcess(config.njoints * config.nfeats, dim)
        self.sequence_pos_encoder = PositionalEncoding(dim, config.dropout, config.max_positions)
        layer = nn.TransformerEncoderLayer(
            d_model=dim, nhead=config.heads, dim_feedforward=config.ff_size, dropout=config.dropout,
            activation=config.activation,
        )
        self.seqTransEncoder = nn.TransformerEncoder(layer, num_layers=config.layers, enable_nested_tensor=False)
        self.embed_timestep = TimestepEmbedder(dim, self.sequence_pos_encoder)
        self.embed_text = nn.Linear(config.text_dim, dim)
        self.output_process = OutputProcess(dim, config.njoints, config.nfeats)

    def forward(self, motion: torch.Tensor, timesteps: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """motion [B, J, F, T], timesteps [B], text embeddings [B, text_dim] (zeros = unconditional) -> [B, J, F, T]."""
        if self.training and self.config.cond_mask_prob > 0:
            keep = torch.rand(text.shape[0], 1, device=text.device) >= self.config.cond_mask_prob
            text = text * keep
        condition = self.embed_timestep(timesteps) + self.embed_text(text)[None]
        tokens = self.sequence_pos_encoder(torch.cat([condition, self.input_process(motion)], dim=0))
        return self.output_process(self.seqTransEncoder(tokens)[1:])


POSITIONAL_KEYS = ("sequence_pos_encoder.pe", "embed_timestep.sequence_pos_encoder.pe")
