"""Wall time of a long motion with the full-size MDM architecture (random weights) on this machine.

The official humanml_trans_enc_512 settings (512 wide, 8 layers, CLIP ViT-B/32-sized text tower) are built
with random weights, saved in the official layout and loaded through the MDM backend, so the timing
covers exactly what a user with the real checkpoint runs; only the motion it makes is meaningless.

    python tools/bench_mdm.py [--seconds 60] [--steps 50] [--no-write]
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import click
import torch

from syncmotion.backends.mdm import load_mdm
from syncmotion.backends.mdm_network import MDMConfig, MDMNetwork
from syncmotion.pipelines.long_motion import LongMotionSettings, generate_motion
from syncmotion.motion.script import parse_script
from syncmotion_lab.benchdoc import markdown_table, write_section
from syncmotion_lab.tiny_models.tiny_mdm import save_clip_text_model, save_identity_meta, save_official_checkpoint

MDM_ARGS = {"arch": "trans_enc", "dataset": "humanml", "latent_dim": 512, "layers": 8, "cond_mask_prob": 0.1,
            "noise_schedule": "cosine", "diffusion_steps": 1000, "text_encoder_type": "clip"}


def full_size_mdm(folder: Path) -> tuple[Path, Path, Path]:
    """Random full-size MDM checkpoint + args.json, identity mean/std, and a ViT-B/32-sized CLIP text tower."""
    torch.manual_seed(0)
    checkpoint = save_official_checkpoint(folder / "ckpt", MDM_ARGS, MDMNetwork(MDMConfig()), name="model000600000.pt")
    clip = save_clip_text_model(folder / "clip", hidden=512, layers=12, heads=8, projection_dim=512)
    return checkpoint, save_identity_meta(folder / "meta"), clip


@click.command()
@click.option("--seconds", default=60, show_default=True, help="Length of the motion.")
@click.option("--steps", default=50, show_default=True)
@click.option("--overlap", default=20, show_default=True)
@click.option("--strategies", default="syncsde,independent", show_default=True)
@click.option("--threads", default=0, show_default=True, help="torch threads (0: torch's default).")
@click.option("--no-write", is_flag=True, help="Do not update docs/benchmarks.md.")
def main(seconds: int, steps: int, overlap: int, strategies: str, threads: int, no_write: bool) -> None:
    """Time generating a SECONDS-long, 4-segment motion with a full-size random MDM."""
    if threads:
        torch.set_num_threads(threads)
    per_segment = seconds / 4
    script = parse_script("".join(f"a person does action {i} | {per_segment:g}s\n" for i in range(4)))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        backend = load_mdm(*full_size_mdm(Path(tmp)))
        load_seconds = time.perf_counter() - start
        for strategy in strategies.split(","):
            start = time.perf_counter()
            motion = generate_motion(script, backend, LongMotionSettings.named(strategy, steps=steps, overlap=overlap))[0]
            elapsed = time.perf_counter() - start
            rows.append([strategy, f"{motion.seconds:.0f}", motion.meta["window"], overlap, steps, len(motion.meta["window_texts"]),
                         motion.meta["model_calls"], f"{elapsed:.1f}", f"{elapsed / motion.seconds:.2f}"])
    header = ["strategy", "motion s", "window", "overlap", "steps", "windows", "model calls", "wall s", "wall s per motion s"]
    table = markdown_table(header, rows)
    body = (f"Full-size MDM (humanml_trans_enc_512 settings, random weights, guidance 2.5 in one batched call), "
            f"{torch.get_num_threads()} torch thread(s) on this machine's 2-core CPU (shared with other jobs while measured); "
            f"checkpoint + CLIP load took {load_seconds:.1f} s.\n\n{table}")
    click.echo(body)
    if not no_write:
        write_section("bench_mdm", "## Long motion with the full-size MDM architecture\n\n" + body)


if __name__ == "__main__":
    main()
