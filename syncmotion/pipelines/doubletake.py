"""DoubleTake (PriorMDM, Shafir et al. 2023) on syncmotion's windows: every transition regenerated in a second take.

The first take is the engine's `handshake` strategy: consecutive windows share their overlap (the handshake),
blended linearly after every step. The second take cuts a model-length window around each handshake from the
first take and denoises it again without text, starting a tenth of the way into the schedule, with the handshake
free, the motion around it held by a soft mask (ramping from 0 to 0.85 over BLEND_FRAMES frames on each side) and
the rest held fixed. PriorMDM's windows are one per segment and its handshake a fixed 20 frames; here the
handshake is whatever overlap the window plan gives.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from syncmotion.engine import Inpaint, sample
from syncmotion.engine.windows import temporal_windows_at

from .motion_model import MotionModel

BLEND_FRAMES = 10  # PriorMDM's default blend_len
BLEND_TOP = 0.85  # PriorMDM's mask value where a blend ramp meets the held motion
SKIPPED_FRACTION = 0.1  # PriorMDM skips 100 of its 1000 steps in the second take


def handshake_spans(starts: Sequence[int], window: int, length: int) -> list[tuple[int, int, int]]:
    """For each pair of consecutive windows: (second-take window start, handshake start, handshake end) in frames."""
    spans = []
    for before, after in zip(starts, starts[1:]):
        first, last = after, min(before + window, length)
        spans.append((min(max(0, (first + last - window) // 2), length - window), first, last))
    return spans


def transition_mask(window_start: int, first: int, last: int, window: int) -> torch.Tensor:
    """Soft mask [window]: 0 on the handshake [first, last), PriorMDM's linear ramps beside it, 1 (held) elsewhere."""
    blend = max(1, min(BLEND_FRAMES, (window - (last - first)) // 2))
    steps = torch.arange(blend, dtype=torch.float32) * (BLEND_TOP / blend)
    # Frames before the handshake: 0.85 down toward 0; after it: from 0 up toward 0.85, as PriorMDM writes them.
    mask = torch.ones(window + 2 * blend)
    offset = blend - window_start  # index in the padded mask of canvas frame 0
    mask[offset + first - blend:offset + first] = BLEND_TOP - steps
    mask[offset + first:offset + last] = 0.0
    mask[offset + last:offset + last + blend] = steps
    return mask[blend:blend + window]


def second_take(canvas: torch.Tensor, starts: Sequence[int], window: int, backend: MotionModel, steps: int,
                generator: torch.Generator | None, max_batch: int | None = None,
                progress: bool = True) -> tuple[torch.Tensor, int, int]:
    """The canvas [B, C, 1, T] with every handshake between consecutive windows regenerated; model calls; window steps."""
    length = canvas.shape[-1]
    spans = handshake_spans(starts, window, length)
    if not spans:
        return canvas, 0, 0
    known = torch.cat([canvas[..., start:start + window] for start, _, _ in spans], dim=-1)
    layout = temporal_windows_at(len(spans) * window, window, [i * window for i in range(len(spans))])
    masks = torch.stack([transition_mask(*span, window) for span in spans])  # [N, window]
    strategy = Inpaint(layout.crop(known), masks[:, None, None, :])
    result = sample(backend.denoiser(0.0), backend.scheduler, layout, [""] * len(spans), latent_shape=canvas.shape[1:-1],
                    strategy=strategy, steps=steps, batch_size=canvas.shape[0], generator=generator, max_batch=max_batch,
                    progress=progress, init=known, start_step=round(steps * SKIPPED_FRACTION))
    refined = canvas.clone()
    for index, ((start, _, _), mask) in enumerate(zip(spans, masks)):
        free = (mask < 1).nonzero()[:, 0]
        refined[..., start + free] = result.windows[:, index][..., free]
    return refined, result.model_calls, len(result.timesteps) * len(spans)
