"""Train the per-part evaluators (legs action, arm action) on combined corpus motions, on CPU.

Each reads only its part's inputs (syncmotion_lab/eval/part_evaluators.py). Training clips are combined motions of
draw --seed (a locomotion with an arm action on top); held-out accuracy is measured on draw --seed + 1. The timeline
benchmark (tools/bench_timelines.py) draws its timelines from another seed.
"""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np
import torch
from tqdm import tqdm

from syncmotion.motion.skeleton import JOINT_NAMES
from syncmotion_lab.corpus.combined import draw_combined
from syncmotion_lab.eval.evaluator import MotionEncoder, motion_inputs, pad_batch
from syncmotion_lab.eval.part_evaluators import PART_ACTIONS, part_evaluator
from syncmotion_lab.eval.training import fit_classifier

# Actions have no side: mirrored clips (x -> -x, left and right swapped) show the same action.
MIRROR = [JOINT_NAMES.index(n.replace("left_", "@").replace("right_", "left_").replace("@", "right_")) for n in JOINT_NAMES]

MIN_CROP = 30


def _views(group: str, seed: int, num: int, crops: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Inputs and labels: each clip's part span (the arm action's frames, or the whole clip for the legs), plus crops."""
    rng = np.random.default_rng([seed, 10**9])
    inputs, labels = [], []
    for index in tqdm(range(num), desc=f"{group} clips, seed {seed}", leave=False):
        clip = draw_combined(seed, index)
        low, high = (clip.arm_start, clip.arm_end) if group == "arms" else (0, len(clip.positions))
        label = PART_ACTIONS[group].index(clip.arm if group == "arms" else clip.legs)
        span = clip.positions[low:high]
        views = [span]
        for _ in range(crops):
            length = int(rng.integers(min(MIN_CROP, len(span)), len(span) + 1))
            start = int(rng.integers(0, len(span) - length + 1))
            view = span[start:start + length]
            if rng.random() < 0.5:
                view = view[:, MIRROR] * np.array([-1.0, 1.0, 1.0], dtype=np.float32)
            views.append(view)
        for view in views:
            if len(view) >= 9:
                inputs.append(motion_inputs(view))
                labels.append(label)
    return inputs, np.array(labels)


def _train(group: str, seed: int, num: int, crops: int, minutes: float, out: Path) -> str:
    train_inputs, train_labels = _views(group, seed, num, crops)
    test_inputs, test_labels = _views(group, seed + 1, max(num // 5, 20), 0)
    stacked = np.concatenate(train_inputs)
    mean, std = torch.from_numpy(stacked.mean(0)), torch.from_numpy(np.maximum(stacked.std(0), 1e-3))
    network = MotionEncoder(num_classes=len(PART_ACTIONS[group]), width=64, feature_dim=32)
    evaluator = part_evaluator(group, network, mean, std)
    standardized = [(x - evaluator.mean.numpy()) / evaluator.std.numpy() for x in train_inputs]
    step = fit_classifier(network, standardized, train_labels, minutes, 2e-3, 64, np.random.default_rng(seed), group)
    with torch.no_grad():
        batch, lengths = pad_batch([(x - evaluator.mean.numpy()) / evaluator.std.numpy() for x in test_inputs])
        predicted = network(batch, lengths)[1].argmax(-1).numpy()
    accuracy = float((predicted == test_labels).mean())
    evaluator.info.update({"seed": seed, "clips": num, "crops": crops, "steps": step, "heldout_seed": seed + 1,
                           "heldout_top1": round(accuracy, 4)})
    evaluator.save(out)
    return f"{group}: {step} steps, held-out top-1 {accuracy:.3f} on {len(test_labels)} clips of seed {seed + 1} -> {out}"


@click.command()
@click.option("--seed", type=int, default=8000, show_default=True, help="Combined-corpus draw to train on (held out: +1).")
@click.option("--num", type=click.IntRange(min=20), default=1500, show_default=True, help="Training clips per evaluator.")
@click.option("--crops", type=click.IntRange(min=0), default=3, show_default=True)
@click.option("--minutes", type=click.FloatRange(min=0.1), default=3.0, show_default=True, help="Training time per evaluator.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("models"), show_default=True,
              help="Folder for legs_evaluator.safetensors and arms_evaluator.safetensors.")
def main(seed: int, num: int, crops: int, minutes: float, out: Path) -> None:
    """Train the legs and arms evaluators and report their held-out accuracy."""
    if not out.is_dir():
        raise click.UsageError(f"output folder {out} does not exist; create it first")
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    for group in PART_ACTIONS:
        click.echo(_train(group, seed, num, crops, minutes, out / f"{group}_evaluator.safetensors"))


if __name__ == "__main__":
    main()
