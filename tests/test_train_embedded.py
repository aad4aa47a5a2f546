"""The embedded model's training tool: its loss and a tiny run that saves a loadable model."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from syncmotion.backends.embedded import read_embedded, read_text_prototypes
from syncmotion.backends.text_prototypes import TextPrototypes
from syncmotion_lab.corpus.performance import corpus_performance

TOOLS = Path(__file__).resolve().parent.parent / "tools"


@pytest.fixture(scope="module")
def tool():
    # Imported by name (not from a file spec) so worker processes can pickle its functions.
    sys.path.insert(0, str(TOOLS))
    return importlib.import_module("train_embedded")


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


def test_window_sampler_crops_stay_inside_one_clip(tool):
    lengths = [5, 9, 6]
    # Frame value = clip index * 100 + frame index, so a crop shows where it came from.
    frames = np.concatenate([np.repeat((c * 100 + np.arange(n, dtype=np.float32))[:, None], 263, axis=1)
                             for c, n in enumerate(lengths)])
    sampler = tool.WindowSampler(frames, lengths, 5, torch.device("cpu"))
    crops, chosen = sampler.sample(np.random.default_rng(0), 200)
    assert crops.shape == (200, 5, 263) and set(chosen.tolist()) == {0, 1, 2}
    values = crops[:, :, 0]
    assert torch.equal(values // 100, chosen[:, None].float().expand(-1, 5))
    assert torch.all(values.diff(dim=1) == 1)


def test_a_crop_across_a_transition_is_taught_with_the_text_of_most_of_its_frames(tool):
    lengths = [6, 20]
    frames = np.zeros((sum(lengths), 263), dtype=np.float32)
    frames[:, 0] = np.arange(sum(lengths))
    # A clip (text 0), then a performance whose text changes from 1 to 2 at its frame 12.
    frame_texts = np.array([0] * 6 + [1] * 12 + [2] * 8)
    sampler = tool.WindowSampler(frames, lengths, 5, torch.device("cpu"), frame_texts, performances=1,
                                 performance_share=0.75)
    crops, texts = sampler.sample(np.random.default_rng(0), 400)
    first = crops[:, 0, 0].long()
    from_performance = first >= 6
    assert 0.65 < from_performance.float().mean().item() < 0.85
    # A crop starting at global frame f covers f..f+4; text 2 starts at frame 18, so crops from frame 16 on are mostly 2.
    expected = torch.where(~from_performance, 0, torch.where(first >= 16, 2, 1))
    assert torch.equal(texts, expected)


def test_learning_rate_warms_up_then_decays_to_zero(tool):
    assert tool.learning_rate_factor(0, 10, 0.0) == pytest.approx(0.1)
    assert tool.learning_rate_factor(9, 10, 0.0) == pytest.approx(1.0)
    assert tool.learning_rate_factor(50, 10, 0.5) == pytest.approx(0.5)
    assert tool.learning_rate_factor(99, 10, 1.0) == pytest.approx(0.0) == tool.learning_rate_factor(99, 10, 1.5)


def test_training_from_precomputed_text_embeddings_in_worker_processes(tool, tmp_path):
    texts = tmp_path / "texts.safetensors"
    embed_tool = importlib.import_module("embed_corpus_texts")
    result = CliRunner().invoke(embed_tool.main, ["--out", str(texts), "--num-clips", "8"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "model.safetensors"
    tiny = ["--num-clips", "6", "--window", "40", "--latent-dim", "16", "--layers", "1", "--heads", "2",
            "--ff-size", "32", "--batch", "4", "--steps", "2", "--diffusion-steps", "50", "--threads", "1"]
    result = CliRunner().invoke(tool.main, ["--out", str(out), "--text-embeddings", str(texts), "--workers", "2", *tiny])
    assert result.exit_code == 0, result.output
    prototypes = read_text_prototypes(out)
    # The model keeps only its own corpus's texts (6 clips), with the embeddings from the file.
    drawn = {embed_tool._clip_text(i, seed=0)[0] for i in range(6)}
    assert set(prototypes.texts) == drawn
    torch.testing.assert_close(prototypes.embeddings, TextPrototypes.load(texts).lookup(prototypes.texts), atol=1e-3, rtol=0)
    result = CliRunner().invoke(tool.main, ["--out", str(out), "--text-embeddings", str(texts), "--num-clips", "20",
                                            *tiny[2:]])
    assert result.exit_code != 0 and "embed_corpus_texts" in str(result.exception)


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
    result = CliRunner().invoke(tool.main, ["--out", str(second), "--init", str(first), "--num-performances", "2", *tiny])
    assert result.exit_code == 0, result.output
    assert "6 clips and 2 performances" in result.output
    settings = read_embedded(second)[3]
    assert settings["recipe"]["num_performances"] == 2 and settings["recipe"]["performance_share"] == 0.5
    # The performances' segment texts are among the texts the model ships.
    performance_texts = {s.text for i in range(2) for s in corpus_performance(0, i).segments}
    assert performance_texts <= set(read_text_prototypes(second).texts)
    assert settings["recipe"]["root_weight"] == 1.0
    assert [stage["recipe"]["root_weight"] for stage in settings["earlier_stages"]] == [5.0]


def test_an_unknown_device_is_refused_with_the_choices(tool, tmp_path):
    result = CliRunner().invoke(tool.main, ["--out", str(tmp_path / "m.safetensors"), "--device", "gpu", "--num-clips", "2"])
    assert result.exit_code == 2 and "'gpu' is no torch device: use cpu, cuda or cuda:N" in result.output
    assert not (tmp_path / "m.safetensors").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_refused_before_any_data_is_drawn(tool, tmp_path):
    result = CliRunner().invoke(tool.main, ["--out", str(tmp_path / "m.safetensors"), "--device", "cuda", "--num-clips", "2"])
    assert result.exit_code == 2 and "no CUDA GPU is visible to torch: train with --device cpu" in result.output
    assert "corpus" not in result.output and not (tmp_path / "m.safetensors").exists()
