"""The motion evaluator: a 1D-conv encoder over per-frame pose features giving an embedding and action logits.

Input per frame (invariant to where the clip starts and which way it faces): the HumanML3D root terms (angular
velocity about y, velocity in the facing frame, height), joint positions relative to the root in the facing frame,
and joint velocities in the facing frame; 133 numbers computed by `syncmotion.motion.features.joints_to_features`
(the 6D rotations and foot contacts are left out). They are standardized with the training set's mean and std.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from syncmotion.files import write_atomically
from syncmotion.motion.features import POSITION_FEATURES, ROOT_FEATURES, VELOCITY_FEATURES, joints_to_features
from syncmotion.resources import resource_dir

# Root terms, root-relative positions and joint velocities of the 263-dim vector.
INPUT_COLUMNS = np.r_[ROOT_FEATURES, POSITION_FEATURES, VELOCITY_FEATURES]
INPUT_DIM = len(INPUT_COLUMNS)
FORMAT = "syncmotion.evaluator/1"
DEFAULT_NAME = "evaluator.safetensors"
MIN_FRAMES = 8


def motion_inputs(positions: np.ndarray) -> np.ndarray:
    """Unstandardized evaluator inputs [T-1, 133] from joint positions [T, 22, 3] (metres, y up, 20 fps)."""
    positions = np.asarray(positions, dtype=np.float32)
    if positions.ndim != 3 or positions.shape[1:] != (22, 3):
        raise ValueError(f"positions must be shaped [T, 22, 3], got {positions.shape}")
    if positions.shape[0] < MIN_FRAMES + 1:
        raise ValueError(f"the evaluator needs at least {MIN_FRAMES + 1} frames, got {positions.shape[0]}")
    return np.asarray(joints_to_features(positions), dtype=np.float32)[:, INPUT_COLUMNS]


class MotionEncoder(nn.Module):
    """Strided 1D convolutions over frames, masked mean+max pooling, a feature vector and action logits."""

    def __init__(self, num_classes: int, width: int = 128, feature_dim: int = 64) -> None:
        super().__init__()
        self.config = {"num_classes": num_classes, "width": width, "feature_dim": feature_dim}
        self.convs = nn.ModuleList([
            nn.Conv1d(INPUT_DIM, width, 5, padding=2),
            nn.Conv1d(width, width, 5, padding=2, stride=2),
            nn.Conv1d(width, width, 5, padding=2, stride=2),
        ])
        self.project = nn.Linear(2 * width, feature_dim)
        self.classify = nn.Linear(feature_dim, num_classes)

    def forward(self, inputs: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Features [B, feature_dim] and logits [B, num_classes] of standardized inputs [B, T, 133] with valid `lengths`."""
        hidden = inputs.transpose(1, 2)
        for conv in self.convs:
            hidden = nn.functional.gelu(conv(hidden))
            lengths = (lengths - 1) // conv.stride[0] + 1
            # Zero the padding so a clip scores the same alone and in a batch of longer ones.
            mask = (torch.arange(hidden.shape[-1])[None, :] < lengths[:, None]).unsqueeze(1)
            hidden = hidden * mask
        mean = (hidden * mask).sum(-1) / lengths[:, None].clamp(min=1)
        peak = hidden.masked_fill(~mask, float("-inf")).amax(-1)
        features = self.project(torch.cat([mean, peak], dim=-1))
        return features, self.classify(nn.functional.gelu(features))


def pad_batch(inputs: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-padded batch [B, T_max, D] and lengths [B] from variable-length arrays [T_i, D]."""
    lengths = torch.tensor([len(x) for x in inputs])
    batch = torch.zeros(len(inputs), int(lengths.max()), inputs[0].shape[-1])
    for i, x in enumerate(inputs):
        batch[i, : len(x)] = torch.from_numpy(np.asarray(x, dtype=np.float32))
    return batch, lengths


class Evaluator:
    """A trained encoder with its input standardization and action names: motions -> features, logits."""

    def __init__(self, network: MotionEncoder, mean: torch.Tensor, std: torch.Tensor, actions: list[str],
                 info: dict[str, Any] | None = None) -> None:
        self.network = network.eval()
        self.mean, self.std = mean.float(), std.float()
        self.actions = list(actions)
        self.info = dict(info or {})

    @torch.no_grad()
    def encode(self, motions: list[np.ndarray], batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
        """Features [N, feature_dim] and logits [N, num_actions] for joint-position arrays [T_i, 22, 3]."""
        if not motions:
            raise ValueError("encode needs at least one motion")
        features, logits = [], []
        for start in range(0, len(motions), batch_size):
            inputs = [(motion_inputs(m) - self.mean.numpy()) / self.std.numpy() for m in motions[start:start + batch_size]]
            batch, lengths = pad_batch(inputs)
            f, z = self.network(batch, lengths)
            features.append(f.numpy())
            logits.append(z.numpy())
        return np.concatenate(features), np.concatenate(logits)

    def action_index(self, action: str) -> int:
        """The class index of an action name."""
        if action not in self.actions:
            raise ValueError(f"the evaluator does not know action {action!r}; it knows {', '.join(self.actions)}")
        return self.actions.index(action)

    def save(self, path: str | Path) -> None:
        """Write weights and standardization to `path` (.safetensors) and the config to the .json beside it, atomically."""
        path = Path(path)
        if path.suffix != ".safetensors":
            raise ValueError(f"evaluator file must end in .safetensors, got {path}")
        config = {"format": FORMAT, "model": self.network.config, "actions": self.actions, "info": self.info}
        tensors = {k: v.detach().contiguous() for k, v in self.network.state_dict().items()}
        tensors.update({"input.mean": self.mean.contiguous(), "input.std": self.std.contiguous()})
        write_atomically(path, lambda temporary: save_file(tensors, str(temporary), metadata={"format": FORMAT}))
        write_atomically(path.with_suffix(".json"), lambda temporary: temporary.write_text(json.dumps(config, indent=1) + "\n"))


def load_evaluator(path: str | Path | None = None) -> Evaluator:
    """The evaluator at `path` (its .json config beside it); by default the shipped models/evaluator.safetensors."""
    path = Path(path) if path is not None else resource_dir("models") / DEFAULT_NAME
    config_path = path.with_suffix(".json")
    if not path.is_file() or not config_path.is_file():
        raise FileNotFoundError(f"no evaluator at {path} (with {config_path.name}); train one with "
                                "tools/train_evaluator.py --out models/evaluator.safetensors")
    config = json.loads(config_path.read_text())
    if config.get("format") != FORMAT:
        raise ValueError(f"{config_path} is not a syncmotion evaluator config (format {config.get('format')!r}, expected {FORMAT})")
    tensors = load_file(str(path))
    mean, std = tensors.pop("input.mean"), tensors.pop("input.std")
    network = MotionEncoder(**config["model"])
    network.load_state_dict(tensors)
    return Evaluator(network, mean, std, config["actions"], config.get("info"))
