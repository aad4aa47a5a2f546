"""Write a procedural motion corpus (joint positions, texts, actions, parameters; features if available) to .npz."""

from __future__ import annotations

import importlib
import time
from pathlib import Path

import click
import numpy as np
from tqdm import tqdm

from syncmotion_lab.corpus import FPS, corpus_clip
from syncmotion_lab.corpus.store import write_corpus


def _features_fn():
    """The motion core's joints -> 263-dim features function, or None when it is not there."""
    try:
        module = importlib.import_module("syncmotion.motion.features")
    except ImportError:
        return None
    return getattr(module, "joints_to_features", None)


@click.command()
@click.option("--num", type=click.IntRange(min=1), required=True, help="Number of clips.")
@click.option("--seed", type=int, default=0, show_default=True, help="Corpus seed; clip i uses seed (seed, i).")
@click.option("--split", type=click.Choice(["train", "heldout", "eval"]), default="train", show_default=True,
              help="Which paraphrases the texts come from (eval: training and held-out ones).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Output .npz file.")
@click.option("--features/--no-features", default=True, show_default=True,
              help="Also write 263-dim HumanML3D features with their mean and std.")
def main(num: int, seed: int, split: str, out: Path, features: bool) -> None:
    """Generate NUM clips deterministically from SEED and write them to OUT."""
    if out.suffix != ".npz":
        raise click.UsageError(f"--out must end in .npz, got {out}")
    if not out.parent.exists():
        raise click.UsageError(f"output folder {out.parent} does not exist; create it first")
    to_features = _features_fn() if features else None
    if features and to_features is None:
        click.echo("note: syncmotion.motion.features.joints_to_features is missing; writing positions only", err=True)
    clips, feats = [], []
    start = time.perf_counter()
    for i in tqdm(range(num), desc="clips", unit="clip"):
        clip = corpus_clip(seed, i, split)
        clips.append(clip)
        if to_features is not None:
            feats.append(np.asarray(to_features(clip.positions), dtype=np.float32))
    elapsed = time.perf_counter() - start
    write_corpus(out, clips, {"seed": seed, "num": num, "split": split, "fps": FPS}, feats if feats else None)
    hours = sum(len(c.positions) for c in clips) / FPS / 3600
    click.echo(f"{num} clips, {hours:.2f} h of motion, {num / elapsed:.0f} clips/s ({elapsed:.1f} s) -> {out}"
               + (" with features" if feats else " (positions only)"))


if __name__ == "__main__":
    main()
