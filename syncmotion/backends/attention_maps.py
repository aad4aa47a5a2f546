"""Attention maps read out of a diffusers UNet through its attention processors, and the edit mask made from them.

Each captured layer's processor is wrapped: the original processor still computes the layer's output (so the UNet's
result is unchanged), and the wrapper recomputes the attention probabilities from the same query and key to record
them. The original processors are put back when the recording ends, however it ends.

The mask follows the official SyncSDE editing recipe: the cross-attention of the edited words, from the layers at
1/4 of the latent size or coarser (16×16 and 8×8 for a 512 px image), each resized to the 1/4 grid and averaged,
normalized per UNet call and averaged over calls; then spread by the self-attention of the UNet's last up-path
transformer (averaged over heads and calls), and thresholded.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

# SD's mask grid is the latent downsampled 4 times (16×16 for a 64×64 latent); coarser layers are resized up to it.
MASK_LEVEL = 2
# Self-attention probabilities are computed this many query rows at a time, so memory stays near one [HW, HW] map.
SELF_ATTENTION_ROWS = 1024


def self_attention_bytes(latent_height: int, latent_width: int) -> int:
    """Memory of the mean self-attention map the mask is spread with, at most [h·w, h·w] float32 (SD's last up block)."""
    return (latent_height * latent_width) ** 2 * 4


def level_sizes(height: int, width: int, levels: int = 8) -> list[tuple[int, int]]:
    """Latent sizes at each UNet level: each downsampling halves a side, rounding up (stride-2 convolutions)."""
    sizes = [(height, width)]
    for _ in range(levels):
        h, w = sizes[-1]
        sizes.append((math.ceil(h / 2), math.ceil(w / 2)))
    return sizes


class _Capture:
    """An attention processor that runs the original one and hands the layer's attention probabilities to a recorder."""

    def __init__(self, original: Any, recorder: AttentionRecorder, name: str, cross: bool) -> None:
        self.original = original
        self.recorder = recorder
        self.name = name
        self.cross = cross

    def __call__(self, attn, hidden_states: torch.Tensor, encoder_hidden_states: torch.Tensor | None = None,
                 attention_mask: torch.Tensor | None = None, temb: torch.Tensor | None = None) -> torch.Tensor:
        """The original processor's output; the probabilities are recorded on the side."""
        output = self.original(attn, hidden_states, encoder_hidden_states, attention_mask, temb)
        context = hidden_states if encoder_hidden_states is None else encoder_hidden_states
        if encoder_hidden_states is not None and attn.norm_cross:
            context = attn.norm_encoder_hidden_states(context)
        with torch.no_grad():
            query = attn.head_to_batch_dim(attn.to_q(hidden_states))
            key = attn.head_to_batch_dim(attn.to_k(context))
            if attention_mask is not None:
                attention_mask = attn.prepare_attention_mask(attention_mask, key.shape[1], hidden_states.shape[0])
            if self.cross:
                self.recorder.add_cross(self.name, attn.get_attention_scores(query, key, attention_mask))
            else:
                self.recorder.add_self(query, key, attn, attention_mask)
        return output


class AttentionRecorder:
    """While active (a context manager), records the cross-attention of `tokens` and one self-attention map.

    Call `finish_call()` after each UNet call; `cross_maps()` and `self_map()` give the averages over calls.
    """

    def __init__(self, unet, latent_size: tuple[int, int], tokens: Sequence[int]) -> None:
        if not tokens:
            raise ValueError("no token to read the attention of; name at least one word")
        self.unet = unet
        self.sizes = level_sizes(*latent_size)
        self.tokens = list(tokens)
        self.calls: list[dict[str, torch.Tensor]] = []
        self._current: dict[str, torch.Tensor] = {}
        self._self_sum: torch.Tensor | None = None
        self._self_size: tuple[int, int] | None = None
        self._self_calls = 0
        self._saved: dict[str, Any] | None = None
        names = list(unet.attn_processors)
        self_names = [name for name in names if name.startswith("up_blocks.") and name.endswith("attn1.processor")]
        cross_names = [name for name in names if name.endswith("attn2.processor")]
        if not self_names or not cross_names:
            raise ValueError("this UNet has no cross-attention or no up-path self-attention to read a mask from; "
                             "give the mask with --mask")
        self.self_name = self_names[-1]
        self.cross_names = cross_names

    def __enter__(self) -> AttentionRecorder:
        self._saved = dict(self.unet.attn_processors)
        wrapped = dict(self._saved)
        for name in self.cross_names:
            wrapped[name] = _Capture(self._saved[name], self, name, cross=True)
        wrapped[self.self_name] = _Capture(self._saved[self.self_name], self, self.self_name, cross=False)
        self.unet.set_attn_processor(wrapped)
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._saved is not None
        # set_attn_processor pops from the dict it is given, so it gets a copy.
        self.unet.set_attn_processor(dict(self._saved))
        self._saved = None

    def _grid(self, tokens: int) -> tuple[int, int]:
        for size in self.sizes:
            if size[0] * size[1] == tokens:
                return size
        raise ValueError(f"an attention layer has {tokens} positions, which is no level of the latent {self.sizes[0]}")

    def add_cross(self, name: str, probabilities: torch.Tensor) -> None:
        """Keep the mean over heads and batch of the chosen tokens' maps [h, w] of one cross-attention layer."""
        columns = probabilities[..., self.tokens].float().mean(dim=(0, 2))
        self._current[name] = columns.reshape(self._grid(columns.numel())).cpu()

    def add_self(self, query: torch.Tensor, key: torch.Tensor, attn, attention_mask: torch.Tensor | None) -> None:
        """Add the self-attention probabilities [HW, HW], averaged over heads and batch, to the running sum."""
        positions = query.shape[1]
        total = torch.zeros(positions, positions, device=query.device, dtype=torch.float32)
        for begin in range(0, positions, SELF_ATTENTION_ROWS):
            rows = slice(begin, begin + SELF_ATTENTION_ROWS)
            mask = None if attention_mask is None else attention_mask[:, rows]
            total[rows] = attn.get_attention_scores(query[:, rows], key, mask).float().mean(dim=0)
        self._self_sum = total if self._self_sum is None else self._self_sum + total
        self._self_size = self._grid(positions)
        self._self_calls += 1

    def finish_call(self) -> None:
        """Close the maps of one UNet call."""
        if not self._current:
            raise ValueError("no cross-attention was recorded during the last UNet call")
        self.calls.append(self._current)
        self._current = {}

    def self_map(self) -> tuple[torch.Tensor, tuple[int, int]]:
        """The mean self-attention [HW, HW] (rows sum to 1) and its grid (h, w)."""
        if self._self_sum is None or self._self_size is None:
            raise ValueError("no self-attention was recorded; run the UNet while recording")
        return self._self_sum / self._self_calls, self._self_size

    def cross_map(self) -> torch.Tensor:
        """The tokens' cross-attention on the mask grid: coarse layers resized and averaged, max-normalized per call,
        averaged over calls, clamped to [0, 1]."""
        if not self.calls:
            raise ValueError("no UNet call was recorded")
        levels = {name: self.sizes.index(tuple(maps.shape)) for name, maps in self.calls[0].items()}
        coarse = {name for name, level in levels.items() if level >= MASK_LEVEL}
        if not coarse:  # a small model whose cross-attention is all finer than SD's: use its coarsest layers
            coarsest = max(levels.values())
            coarse = {name for name, level in levels.items() if level == coarsest}
        grid = self.sizes[min(levels[name] for name in coarse)]
        per_call = []
        for maps in self.calls:
            resized = [_resize(maps[name], grid, "bicubic") for name in sorted(coarse)]
            mean = torch.stack(resized).mean(0)
            per_call.append(mean / mean.max().clamp_min(1e-12))
        return torch.stack(per_call).mean(0).clamp(0, 1)


def _resize(plane: torch.Tensor, size: tuple[int, int], mode: str) -> torch.Tensor:
    """A 2D map [h, w] resized to `size`."""
    if tuple(plane.shape) == tuple(size):
        return plane
    return F.interpolate(plane[None, None], size=size, mode=mode, align_corners=False)[0, 0]


def edit_mask(recorder: AttentionRecorder, threshold: float = 0.3) -> tuple[torch.Tensor, torch.Tensor]:
    """(binary mask, soft mask) [h, w] at the latent size: the cross map spread by self-attention, then thresholded."""
    latent_size = recorder.sizes[0]
    spread_with, grid = recorder.self_map()
    cross = _resize(recorder.cross_map(), grid, "bicubic").clamp(0, 1)
    spread = (spread_with.cpu() @ cross.flatten()).reshape(grid)
    soft = _resize(spread, latent_size, "bilinear")
    return (soft > threshold).float(), soft


def token_positions(tokenizer, prompt: str, words: Sequence[int]) -> list[int]:
    """Positions in the encoded prompt (after the start token) of the tokens of the given whitespace-split words."""
    positions, start = [], 1
    limit = tokenizer.model_max_length - 1  # the last position holds the end token
    for index, word in enumerate(prompt.split()):
        count = len(tokenizer(word, add_special_tokens=False).input_ids)
        if index in words:
            if start + count > limit:
                raise ValueError(f"the word {word!r} lies past the text encoder's {limit - 1}-token limit; "
                                 "shorten the source prompt")
            positions.extend(range(start, start + count))
        start += count
    return positions
