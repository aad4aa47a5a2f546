"""Wide images: our engine vs diffusers' StableDiffusionPanoramaPipeline on one tiny random SD pipeline.

Each contender runs in its own subprocess (one CPU thread) so its peak memory is its own. The canvas is
512×2048-shaped (64×256 latent); sampling only, no VAE decode. Usage: python tools/bench_wide.py [--steps 20]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from syncmotion_lab.benchdoc import markdown_table, write_section

PROMPT = "a photo of the dolomites"
HEIGHT, WIDTH = 512, 2048
CONTENDERS = {
    "diffusers panorama, stride 8, view_batch_size 1 (its default)": ("diffusers", 8, 1),
    "diffusers panorama, stride 8, view_batch_size 25": ("diffusers", 8, 25),
    "syncmotion multidiffusion, stride 8, batched": ("multidiffusion", 8, None),
    "syncmotion syncsde, stride 16, batched (default)": ("syncsde", 16, None),
    "syncmotion syncsde, stride 16, max_batch 1": ("syncsde", 16, 1),
}


def peak_rss_mib() -> float:
    """Peak resident memory of this process in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_worker(model: str, name: str, steps: int) -> dict:
    """Time one contender in this process and return its numbers."""
    from diffusers import StableDiffusionPanoramaPipeline

    from syncmotion.backends.stable_diffusion import StableDiffusionDenoiser, ddim_scheduler, load_pipeline
    from syncmotion.engine import make_strategy
    from syncmotion.pipelines.images import ImageSettings, panorama_latents

    torch.set_num_threads(1)
    kind, stride, view_batch = CONTENDERS[name]
    pipeline = load_pipeline(model, device="cpu")
    counts = {"calls": 0, "windows": 0}

    def count(_module, args):
        counts["calls"] += 1
        counts["windows"] += args[0].shape[0] // 2  # classifier-free guidance doubles every batch

    pipeline.unet.register_forward_pre_hook(count)
    rss_loaded = peak_rss_mib()
    start = time.perf_counter()
    if kind == "diffusers":
        components = {key: part for key, part in pipeline.components.items() if key != "image_encoder"}
        panorama = StableDiffusionPanoramaPipeline(**components | {"scheduler": ddim_scheduler(pipeline)})
        panorama.set_progress_bar_config(disable=True)
        panorama(PROMPT, height=HEIGHT, width=WIDTH, num_inference_steps=steps, view_batch_size=view_batch,
                 generator=torch.Generator().manual_seed(0), output_type="latent")
    else:
        settings = ImageSettings(strategy=make_strategy(kind), steps=steps, seed=0, max_batch=view_batch, progress=False)
        panorama_latents(StableDiffusionDenoiser(pipeline), PROMPT, HEIGHT // 8, WIDTH // 8, window=64, stride=stride,
                         settings=settings)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, **counts, "peak_mib": peak_rss_mib(), "loaded_mib": rss_loaded}


def main() -> None:
    """Run every contender in a subprocess, print the table and write docs/benchmarks.md's section."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(run_worker(args.model, args.worker, args.steps)))
        return
    from syncmotion_lab.tiny_models.tiny_sd import tiny_pipeline

    with tempfile.TemporaryDirectory() as folder:
        tiny_pipeline(Path(folder))
        results = {}
        for name in CONTENDERS:
            output = subprocess.run(
                [sys.executable, __file__, "--worker", name, "--model", folder, "--steps", str(args.steps)],
                check=True, capture_output=True, text=True,
            ).stdout
            results[name] = json.loads(output.strip().splitlines()[-1])
            print(name, results[name], flush=True)
    baseline = results[next(iter(CONTENDERS))]
    rows = [
        [name, r["windows"], r["calls"], f"{r['seconds']:.2f}", f"{baseline['seconds'] / r['seconds']:.2f}x",
         f"{r['windows'] / baseline['windows']:.2f}", f"{r['peak_mib']:.0f}", f"{r['peak_mib'] - r['loaded_mib']:.0f}"]
        for name, r in results.items()
    ]
    table = markdown_table(
        ["contender", "UNet window evals", "UNet calls", "wall s", "speed vs diffusers default",
         "evals vs diffusers default", "peak RSS MiB", "peak RSS growth while sampling MiB"], rows,
    )
    body = (
        f"## Wide image: syncmotion vs diffusers' StableDiffusionPanoramaPipeline (`tools/bench_wide.py`)\n\n"
        f"Tiny random SD pipeline (UNet 8/16 channels, so the UNet is cheap and per-call overhead weighs more than on "
        f"real SD), {HEIGHT}x{WIDTH} px = 64x256 latent, window 64, {args.steps} DDIM steps, CFG 7.5, sampling only "
        f"(no VAE decode), each contender in its own process on 1 CPU thread "
        f"({platform.processor() or platform.machine()}, torch {torch.__version__}). "
        "`max_batch`/`view_batch_size` = windows per UNet call. A window eval is one window "
        f"through the UNet (its guided pair counted once). Peak RSS is the process's maximum resident memory.\n\n"
        f"{table}\n\n"
        f"The multidiffusion row computes the same latents as diffusers (checked to float tolerance in "
        f"tests/test_images.py). On a CPU, batching windows into one UNet call saves little time and costs memory; "
        f"the syncsde speed-up here comes from needing fewer window evaluations (stride 16 instead of 8). "
        "Not measured on a GPU (none was available), where batched calls are expected to matter more. "
        "The CPU may be shared with other jobs, so wall times vary from run to run; compare rows of one run.\n"
    )
    print(table)
    write_section("bench_wide", body)


if __name__ == "__main__":
    main()
