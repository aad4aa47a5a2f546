"""Fixtures shared by several test files."""

from __future__ import annotations

import pytest
import torch

from syncmotion.backends.embedded import save_embedded
from syncmotion.backends.mdm_network import MDMConfig, MDMNetwork

TINY_SETTINGS = {"window": 40, "noise_schedule": "cosine", "diffusion_steps": 100, "sample_steps": 4}


@pytest.fixture(scope="session")
def tiny_embedded(tmp_path_factory):
    """A random embedded-format model small enough to sample in a blink."""
    torch.manual_seed(0)
    network = MDMNetwork(MDMConfig(latent_dim=16, ff_size=32, layers=1, text_dim=384, max_positions=200))
    path = tmp_path_factory.mktemp("embedded") / "tiny.safetensors"
    save_embedded(path, network, torch.zeros(263), torch.full((263,), 0.01), TINY_SETTINGS)
    return path
