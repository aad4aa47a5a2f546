"""Fixtures shared by several test files."""

from __future__ import annotations

import pytest
import torch

from syncmotion.backends.embedded import save_embedded
from syncmotion.backends.mdm_network import MDMConfig, MDMNetwork

TINY_SETTINGS = {"window": 40, "noise_schedule": "cosine", "diffusion_steps": 100, "sample_steps": 4}


@pytest.fixture(scope="session", autouse=True)
def session_cache_folder(tmp_path_factory):
    """Text embeddings are cached in a folder of the test session, never in the user's home.

    Session-wide, so that module and session fixtures that load a model (before any function fixture) use it too;
    set in the environment, so the commands and tools tests run in subprocesses use it as well.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SYNCMOTION_CACHE_DIR", str(tmp_path_factory.mktemp("session-cache")))
        patch.delenv("SYNCMOTION_CACHE", raising=False)
        yield


@pytest.fixture(autouse=True)
def own_cache_folder(session_cache_folder, tmp_path_factory, monkeypatch):
    """Each test starts with an empty cache folder of its own."""
    monkeypatch.setenv("SYNCMOTION_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="session")
def tiny_embedded(tmp_path_factory):
    """A random embedded-format model small enough to sample in a blink."""
    torch.manual_seed(0)
    network = MDMNetwork(MDMConfig(latent_dim=16, ff_size=32, layers=1, text_dim=384, max_positions=200))
    path = tmp_path_factory.mktemp("embedded") / "tiny.safetensors"
    save_embedded(path, network, torch.zeros(263), torch.full((263,), 0.01), TINY_SETTINGS)
    return path


@pytest.fixture(scope="session")
def tiny_sd_folder(tmp_path_factory):
    """A tiny random Stable Diffusion pipeline saved as a diffusers folder (no real images, seconds on a CPU)."""
    from syncmotion_lab.tiny_models.tiny_sd import tiny_pipeline

    folder = tmp_path_factory.mktemp("tiny_sd")
    tiny_pipeline(folder)
    return folder
