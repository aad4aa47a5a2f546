"""The image tasks side by side on one tiny random SD pipeline: wall time and UNet calls of each task's sampling.

    python tools/bench_image_tasks.py [--steps 20] [--size 512] [--no-write]

Each task runs through its pipeline functions (what its command calls between loading the model and decoding), in
this process on one CPU thread, after one untimed warm-up run; the model load and the VAE are left out. Editing
counts its DDIM inversion and its attention-mask pass as well as its three trajectories.
"""

from __future__ import annotations

import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import click
import torch

from syncmotion.backends.stable_diffusion import StableDiffusionDenoiser, load_pipeline
from syncmotion.engine import make_strategy
from syncmotion.engine.image_layouts import AnagramLayout, MaskedLayout
from syncmotion.pipelines.edit import attention_mask, changed_words, edit_latents, invert
from syncmotion.pipelines.images import ImageSettings, panorama_latents, sample_layout
from syncmotion_lab.benchdoc import markdown_table, write_section
from syncmotion_lab.tiny_models.tiny_sd import tiny_pipeline

SOURCE, TARGET = "a cat on a bench", "a dog on a bench"


def tasks(pipeline, size: int, steps: int) -> dict[str, Callable[[StableDiffusionDenoiser], int]]:
    """Each row's work: a function of a fresh guided denoiser that returns the UNet calls it made."""
    latent = size // 8
    settings = ImageSettings(strategy=make_strategy("syncsde"), steps=steps, progress=False)
    half = torch.zeros(latent, latent)
    half[:, latent // 2 :] = 1
    photo = torch.randn(1, 4, latent, latent, generator=torch.Generator().manual_seed(0))

    def wide(denoiser: StableDiffusionDenoiser) -> int:
        return panorama_latents(denoiser, "a mountain range", latent, 2 * latent, window=latent, stride=latent // 4,
                                settings=settings).model_calls

    def masked(denoiser: StableDiffusionDenoiser) -> int:
        return sample_layout(denoiser, MaskedLayout(half), ["a beach", "a boat", "a boat, beach"], settings).model_calls

    def anagram(denoiser: StableDiffusionDenoiser) -> int:
        return sample_layout(denoiser, AnagramLayout(latent, latent, "flip"), ["a duck", "a rabbit"], settings).model_calls

    def edit(denoiser: StableDiffusionDenoiser, given_mask: bool) -> int:
        inversion = invert(pipeline, photo, SOURCE, steps, progress=False)
        calls = inversion.model_calls
        mask = half
        if not given_mask:
            mask, _, mask_calls = attention_mask(pipeline, inversion, SOURCE, changed_words(SOURCE, TARGET),
                                                      progress=False)
            calls += mask_calls
        return calls + edit_latents(denoiser, inversion, mask, SOURCE, TARGET, settings).model_calls

    return {
        f"wide {size}x{2 * size}, window {size} px, stride {size // 4} px": wide,
        f"masked-t2i {size}x{size} (3 trajectories)": masked,
        f"anagram {size}x{size}, flip (2 trajectories)": anagram,
        f"edit {size}x{size}, mask from attention (inversion + mask pass + 3 trajectories)": lambda d: edit(d, False),
        f"edit {size}x{size}, --mask given (inversion + 3 trajectories)": lambda d: edit(d, True),
    }


@click.command()
@click.option("--steps", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--size", type=click.IntRange(min=64), default=512, show_default=True, help="Image side in pixels.")
@click.option("--write/--no-write", default=True, show_default=True, help="Update docs/benchmarks.md.")
def main(steps: int, size: int, write: bool) -> None:
    """Print (and record) each image task's sampling time and UNet calls on the tiny pipeline."""
    torch.set_num_threads(1)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        tiny_pipeline(Path(folder))
        pipeline = load_pipeline(folder, device="cpu")
        latents = [0]
        pipeline.unet.register_forward_pre_hook(lambda _module, args: latents.__setitem__(0, latents[0] + args[0].shape[0]))
        for name, work in tasks(pipeline, size, steps).items():
            work(StableDiffusionDenoiser(pipeline))  # warm-up: first calls at a new size allocate
            latents[0] = 0
            start = time.perf_counter()
            calls = work(StableDiffusionDenoiser(pipeline))
            seconds = time.perf_counter() - start
            rows.append([name, calls, latents[0], f"{seconds:.2f}"])
            print(*rows[-1], flush=True)
    table = markdown_table(["task", "UNet calls", "latents through the UNet", "wall s"], rows)
    body = (
        "## Image tasks side by side (`tools/bench_image_tasks.py`)\n\n"
        f"Tiny random SD pipeline (UNet 8/16 channels), {steps} DDIM steps, CFG 7.5, SyncSDE 1/λ = 5, sampling only "
        f"(no model load, no VAE), one CPU thread ({platform.processor() or platform.machine()}, torch "
        f"{torch.__version__}), one untimed warm-up run per row. A UNet call is one batched call (all windows, "
        "both guidance halves, so a guided window counts two latents); the edit's inversion and mask passes are "
        "unguided, one latent per call. "
        "The edit costs three passes of the DDIM schedule where the other tasks take one; its mask pass also computes "
        "one self-attention map per call. The CPU may be shared with other jobs: compare rows of one run. "
        "Image quality needs real weights, which were not available here.\n\n"
        f"{table}\n"
    )
    print(table)
    if write:
        write_section("bench_image_tasks", body)


if __name__ == "__main__":
    main()
