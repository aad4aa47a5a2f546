"""Text-driven editing of a real image on the engine: DDIM inversion, a mask from attention, three trajectories.

The trajectories are mask-based T2I's (`MaskedLayout`): 0 is the reconstruction under the source prompt, held to
the photo's inverted path (`Pinned`); 1 runs under the target prompt from fresh seeded noise, pulled toward 0 off
the mask; 2, the output, runs under the target prompt from the inverted x_T, pulled toward 0 off the mask and
toward 1 on it. As in the official code, 1 starts from its own noise: started from x_T too it would see exactly
what 2 sees (same start, same prompt, the same pull wherever 1 and 2 agree) and the two would stay identical.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import replace

import torch
from tqdm.auto import tqdm

from syncmotion.backends.attention_maps import AttentionRecorder, edit_mask, token_positions
from syncmotion.backends.stable_diffusion import StableDiffusionDenoiser, ddim_scheduler
from syncmotion.engine import SampleResult
from syncmotion.engine.image_layouts import MaskedLayout
from syncmotion.engine.inversion import Inversion, ddim_invert
from syncmotion.engine.pinned import Pinned
from .images import ImageSettings, sample_layout

MASK_THRESHOLD = 0.3  # the official recipe's threshold on the spread attention map


def _bare(word: str) -> str:
    return re.sub(r"\W", "", word.lower())


def changed_words(source: str, target: str) -> list[int]:
    """Indices of the source prompt's words (split on whitespace) that the target replaces or drops.

    A target that only inserts words (an adjective, say) changes the source word after the insertion (or before it
    at the end of the prompt), since that is the word the new ones describe.
    """
    words = source.split()
    matcher = difflib.SequenceMatcher(a=[_bare(w) for w in words], b=[_bare(w) for w in target.split()], autojunk=False)
    changed: set[int] = set()
    for tag, begin, end, _, _ in matcher.get_opcodes():
        if tag in ("replace", "delete"):
            changed.update(range(begin, end))
        elif tag == "insert" and words:
            changed.add(min(begin, len(words) - 1))
    if not changed:
        raise ValueError("the source and target prompts have the same words; change the word(s) to edit")
    return sorted(changed)


def invert(pipeline, latent: torch.Tensor, source: str, steps: int, progress: bool = True) -> Inversion:
    """DDIM inversion of a clean latent [1, 4, h, w] under the source prompt, without guidance."""
    return ddim_invert(StableDiffusionDenoiser(pipeline, guidance_scale=1.0), ddim_scheduler(pipeline), latent,
                       [source], steps, progress)


def attention_mask(pipeline, inversion: Inversion, source: str, words: list[int], threshold: float = MASK_THRESHOLD,
                   progress: bool = True) -> tuple[torch.Tensor, torch.Tensor, int]:
    """(binary mask, soft map) [h, w] in latent pixels and the UNet calls made: the reconstruction's attention to
    `words` of the source prompt, read along the inverted path (one unguided call per step)."""
    denoiser = StableDiffusionDenoiser(pipeline, guidance_scale=1.0)
    positions = token_positions(pipeline.tokenizer, source, words)
    with AttentionRecorder(pipeline.unet, tuple(inversion.states.shape[-2:]), positions) as recorder:
        path = zip(inversion.states[:-1], inversion.timesteps)
        for state, timestep in tqdm(path, desc="mask", total=inversion.steps, disable=not progress, leave=False):
            denoiser(state, timestep.expand(state.shape[0]), [source] * state.shape[0])
            recorder.finish_call()
    mask, soft = edit_mask(recorder, threshold)
    return mask, soft, denoiser.unet_calls


def edit_latents(denoiser: StableDiffusionDenoiser, inversion: Inversion, mask: torch.Tensor, source: str,
                 target: str, settings: ImageSettings | None = None) -> SampleResult:
    """The three trajectories; `windows[:, 2]` is the edited latent, `windows[:, 0]` the reconstruction."""
    settings = settings or ImageSettings()
    if settings.steps != inversion.steps:
        raise ValueError(f"the inversion was made with {inversion.steps} steps but editing takes {settings.steps}; "
                         "use the same number of steps")
    x_t = inversion.noise
    if tuple(mask.shape) != tuple(x_t.shape[-2:]):
        raise ValueError(f"the mask is {tuple(mask.shape)} latent pixels but the image {tuple(x_t.shape[-2:])}; "
                         "give a mask of the image's size")
    pinned = Pinned(settings.strategy, inversion.states, windows=[0])
    fresh = torch.randn(x_t.shape, generator=torch.Generator().manual_seed(settings.seed))
    noise = torch.stack([x_t, fresh, x_t], dim=-3)  # the stacked canvas [B, 4, 3, h, w]
    return sample_layout(denoiser, MaskedLayout(mask), [source, target, target], replace(settings, strategy=pinned),
                         noise=noise)
