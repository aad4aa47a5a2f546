"""The embedded model's training tool: its loss and a tiny run that saves a loadable model."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from syncmotion.backends.embedded import read_embedded

TOOLS = Path(__file__).resolve().parent.parent / "tools"


@pytest.fixture(scope="module")
def tool():
    sys.path.insert(0, str(TOOLS))
    spec = importlib.util.spec_from_file_location("train_embedded", TOOLS / "train_embedded.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_root_weight_one_is_plain_mse_plus_velocity_loss(tool):
    predicted, x0 = torch.randn(2, 263, 1, 6), torch.randn(2, 263, 1, 6)
    expected = (torch.nn.functional.mse_loss(predicted, x0)
                + 0.5 * torch.nn.functional.mse_loss(predicted.diff(dim=-1), x0.diff(dim=-1)))
    assert torch.allclose(tool.training_loss(predicted, x0, tool.feature_weights(1.0), 0.5), expected)


def test_root_weight_makes_root_errors_cost_more_than_the_same_error_elsewhere(tool):
    weights = tool.feature_weights(5.0)
    assert weights.mean().item() == pytest.approx(1.0)
    x0 = torch.zeros(1, 263, 1, 4)
    root_error, joint_error = x0.clone(), x0.clone()
    root_error[:, 0] = 1.0
    joint_error[:, 10] = 1.0
    root_loss = tool.training_loss(root_error, x0, weights, 0.0)
    assert root_loss == pytest.approx(5 * tool.training_loss(joint_error, x0, weights, 0.0).item())
    assert root_loss > tool.training_loss(root_error, x0, tool.feature_weights(1.0), 0.0)


def test_rotation_weight_scales_only_the_rotation_features(tool):
    weights = tool.feature_weights(5.0, 0.2).flatten()
    assert weights.mean().item() == pytest.approx(1.0)
    assert torch.allclose(weights[67:193], 0.2 * weights[4])
    assert torch.allclose(weights[:4], 5 * weights[4]) and torch.allclose(weights[193:], weights[4].expand(70))
    assert torch.equal(tool.feature_weights(5.0, 1.0), tool.feature_weights(5.0))


def test_tiny_training_run_saves_a_model_that_records_its_recipe_and_goes_on(tool, tmp_path):
    first, second = tmp_path / "first.safetensors", tmp_path / "second.safetensors"
    tiny = ["--num-clips", "6", "--window", "40", "--latent-dim", "16", "--layers", "1", "--heads", "2",
            "--ff-size", "32", "--batch", "4", "--steps", "2", "--diffusion-steps", "50", "--threads", "1"]
    result = CliRunner().invoke(tool.main, ["--out", str(first), "--root-weight", "5", "--rotation-weight", "0.2", *tiny])
    assert result.exit_code == 0, result.output
    network, mean, std, settings = read_embedded(first)
    assert settings["recipe"]["root_weight"] == 5.0 and settings["trained"]["steps"] == 2
    assert settings["recipe"]["rotation_weight"] == 0.2
    assert settings["window"] == 40 and mean.shape == std.shape == (263,) and network.config.latent_dim == 16
    result = CliRunner().invoke(tool.main, ["--out", str(second), "--init", str(first), *tiny])
    assert result.exit_code == 0, result.output
    settings = read_embedded(second)[3]
    assert settings["recipe"]["root_weight"] == 1.0
    assert [stage["recipe"]["root_weight"] for stage in settings["earlier_stages"]] == [5.0]
