"""Training an evaluator's classifier on CPU for a time budget (cosine learning rate, label smoothing)."""

from __future__ import annotations

import math
import time

import numpy as np
import torch
from tqdm import tqdm

from syncmotion_lab.eval.evaluator import MotionEncoder, pad_batch


def fit_classifier(network: MotionEncoder, standardized: list[np.ndarray], labels: np.ndarray, minutes: float, lr: float,
                   batch: int, rng: np.random.Generator, desc: str = "train") -> int:
    """Train `network` on standardized inputs and labels for `minutes`; returns the steps taken, network left in eval mode."""
    optimizer = torch.optim.AdamW(network.parameters(), lr=lr, weight_decay=1e-4)
    budget, started, step = minutes * 60, time.perf_counter(), 0
    network.train()
    with tqdm(total=int(budget), desc=desc, unit="s") as bar:
        while (elapsed := time.perf_counter() - started) < budget:
            for group in optimizer.param_groups:
                group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * elapsed / budget))
            picks = rng.integers(0, len(standardized), batch)
            inputs, lengths = pad_batch([standardized[i] for i in picks])
            loss = torch.nn.functional.cross_entropy(network(inputs, lengths)[1], torch.from_numpy(labels[picks]),
                                                     label_smoothing=0.05)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            bar.n = int(min(elapsed, budget))
            bar.set_postfix(step=step, loss=f"{loss.item():.3f}", refresh=False)
            bar.refresh() if step % 20 == 0 else None
    network.eval()
    return step
