"""Train the motion evaluator (action classifier + feature space) on a procedural corpus draw, on CPU."""

from __future__ import annotations

import time
from pathlib import Path

import click
import numpy as np
import torch
from tqdm import tqdm

from syncmotion.motion.skeleton import JOINT_NAMES
from syncmotion_lab.corpus import ACTIONS, corpus_clip
from syncmotion_lab.eval.evaluator import Evaluator, MotionEncoder, motion_inputs, pad_batch
from syncmotion_lab.eval.training import fit_classifier

# The embedded model trains on corpus seed 0; the evaluator must see other draws.
MODEL_CORPUS_SEED = 0
MIN_CROP = 40
JITTER_METRES = 0.005
TEMPO_RANGE = (0.8, 1.25)
# Actions have no side: a mirrored clip (x -> -x, left and right joints swapped) shows the same action.
MIRROR = [JOINT_NAMES.index(n.replace("left_", "@").replace("right_", "left_").replace("@", "right_")) for n in JOINT_NAMES]


def _retime(positions: np.ndarray, rate: float) -> np.ndarray:
    """The clip played `rate` times as fast (linear interpolation between frames)."""
    source = np.arange(0, len(positions) - 1 + 1e-6, rate)
    low = np.floor(source).astype(int)
    weight = (source - low)[:, None, None].astype(np.float32)
    return (1 - weight) * positions[low] + weight * positions[np.minimum(low + 1, len(positions) - 1)]


def _views(positions: np.ndarray, rng: np.random.Generator, crops: int) -> list[np.ndarray]:
    """The whole clip plus random crops, some retimed, mirrored or jittered: generated segments differ from the corpus."""
    views = [positions]
    for _ in range(crops):
        view = _retime(positions, float(np.exp(rng.uniform(*np.log(TEMPO_RANGE)))))
        length = int(rng.integers(min(MIN_CROP, len(view)), len(view) + 1))
        start = int(rng.integers(0, len(view) - length + 1))
        view = view[start:start + length]
        if rng.random() < 0.5:
            view = view[:, MIRROR] * np.array([-1.0, 1.0, 1.0], dtype=np.float32)
        if rng.random() < 0.5:
            view = view + rng.normal(0.0, JITTER_METRES, view.shape).astype(np.float32)
        views.append(view.astype(np.float32))
    return views


def _draw(seed: int, num: int, crops: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Evaluator inputs and action labels of `num` corpus clips drawn with `seed` (clip i from rng [seed, i])."""
    names = sorted(ACTIONS)
    inputs, labels = [], []
    augment = np.random.default_rng([seed, 10**9])
    for i in tqdm(range(num), desc=f"corpus seed {seed}", unit="clip", leave=False):
        clip = corpus_clip(seed, i)
        for view in _views(clip.positions, augment, crops):
            inputs.append(motion_inputs(view))
            labels.append(names.index(clip.action))
    return inputs, np.array(labels)


def _accuracy(evaluator: Evaluator, inputs: list[np.ndarray], labels: np.ndarray) -> float:
    with torch.no_grad():
        correct = 0
        for start in range(0, len(inputs), 256):
            batch, lengths = pad_batch([(x - evaluator.mean.numpy()) / evaluator.std.numpy() for x in inputs[start:start + 256]])
            correct += int((evaluator.network(batch, lengths)[1].argmax(-1).numpy() == labels[start:start + 256]).sum())
    return correct / len(inputs)


@click.command()
@click.option("--seed", type=int, default=1000, show_default=True, help="Corpus seed of the training draw (not 0: the model's).")
@click.option("--num", type=click.IntRange(min=27), default=6000, show_default=True, help="Training clips.")
@click.option("--test-num", type=click.IntRange(min=27), default=1000, show_default=True, help="Held-out clips (corpus seed + 1).")
@click.option("--crops", type=click.IntRange(min=0), default=2, show_default=True, help="Random crops per training clip.")
@click.option("--minutes", type=click.FloatRange(min=0.1), default=6.0, show_default=True, help="Training time budget.")
@click.option("--batch", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--lr", type=float, default=2e-3, show_default=True)
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True, help="torch CPU threads (the CPU is shared).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Output .safetensors (config .json beside it).")
def main(seed: int, num: int, test_num: int, crops: int, minutes: float, batch: int, lr: float, threads: int, out: Path) -> None:
    """Train the evaluator on corpus draw SEED and report its accuracy on draw SEED+1."""
    if seed in (MODEL_CORPUS_SEED, MODEL_CORPUS_SEED - 1):
        raise click.UsageError(f"--seed {seed} overlaps the embedded model's training draw (seed {MODEL_CORPUS_SEED}); use e.g. 1000")
    if out.suffix != ".safetensors":
        raise click.UsageError(f"--out must end in .safetensors, got {out}")
    if not out.parent.is_dir():
        raise click.UsageError(f"output folder {out.parent} does not exist; create it first")
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    started = time.perf_counter()
    train_inputs, train_labels = _draw(seed, num, crops)
    # Held-out: every clip whole, and one augmented crop of it.
    views, view_labels = _draw(seed + 1, test_num, 1)
    test_inputs, test_labels = views[0::2], view_labels[0::2]
    crop_inputs, crop_labels = views[1::2], view_labels[1::2]
    stacked = np.concatenate(train_inputs)
    mean, std = torch.from_numpy(stacked.mean(0)), torch.from_numpy(np.maximum(stacked.std(0), 1e-3))
    click.echo(f"data: {len(train_inputs)} training views, {len(test_inputs)} held-out clips ({time.perf_counter() - started:.0f} s)")
    names = sorted(ACTIONS)
    network = MotionEncoder(num_classes=len(names))
    evaluator = Evaluator(network, mean, std, names)
    standardized = [(x - mean.numpy()) / std.numpy() for x in train_inputs]
    step = fit_classifier(network, standardized, train_labels, minutes, lr, batch, np.random.default_rng(seed))
    accuracy = _accuracy(evaluator, test_inputs, test_labels)
    crop_accuracy = _accuracy(evaluator, crop_inputs, crop_labels)
    evaluator.info = {"corpus_seed": seed, "train_clips": num, "crops": crops, "steps": step, "minutes": minutes,
                      "heldout_seed": seed + 1, "heldout_clips": test_num, "heldout_top1": round(accuracy, 4),
                      "heldout_crop_top1": round(crop_accuracy, 4)}
    evaluator.save(out)
    params = sum(p.numel() for p in network.parameters())
    click.echo(f"{step} steps, {params} parameters; held-out top-1 accuracy {accuracy:.3f} on {test_num} clips "
               f"(corpus seed {seed + 1}), {crop_accuracy:.3f} on augmented crops of them -> {out} ({out.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
