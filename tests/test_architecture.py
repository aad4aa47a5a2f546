"""The extension points the layers promise: a strategy or a motion backend added from outside the package."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from diffusers import DDIMScheduler

from syncmotion.backends import registry
from syncmotion.backends.registry import ModelOptions, MotionLoader, load_motion_model, register_motion_loader
from syncmotion.engine import STRATEGIES, StepState, make_strategy, register_strategy, sample, temporal_windows
from syncmotion.engine.strategies import scheduler_step
from syncmotion.pipelines.long_motion import LongMotionSettings


class Denoiser:
    """Any callable with a prediction type will do; this one shrinks its input."""

    prediction_type = "epsilon"

    def __call__(self, x: torch.Tensor, t: torch.Tensor, conds: list) -> torch.Tensor:
        return 0.5 * x + 0.01 * torch.tensor([float(c) for c in conds]).reshape(-1, *[1] * (x.dim() - 1))


class OverlapAverage:
    """A toy strategy written outside syncmotion: step every window, then average them on the canvas."""

    name = "overlap-average"

    def __init__(self, weight: float = 1.0) -> None:
        self.weight = weight

    def step(self, state: StepState) -> torch.Tensor:
        """x_{t-1} of every window, pulled by `weight` toward the canvas average."""
        previous = scheduler_step(state, state.epsilon)
        averaged = state.layout.crop(state.layout.merge(previous, "mean"))
        return previous + self.weight * (averaged - previous)


@pytest.fixture
def fresh_registry():
    """The strategy registry as shipped, restored after the test."""
    shipped = dict(STRATEGIES)
    yield
    STRATEGIES.clear()
    STRATEGIES.update(shipped)


def run(strategy) -> torch.Tensor:
    layout = temporal_windows(length=30, window=12, overlap=4)
    scheduler = DDIMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, clip_sample=False)
    return sample(Denoiser(), scheduler, layout, list(range(layout.num_windows)), latent_shape=(2,), strategy=strategy,
                  steps=6, generator=torch.Generator().manual_seed(0), stitch="mean", progress=False).windows


def test_a_strategy_from_outside_is_one_small_class(fresh_registry):
    register_strategy(OverlapAverage)
    # Registered, it is reachable by name, with its own parameter, like the shipped strategies.
    torch.testing.assert_close(run("overlap-average"), run("multidiffusion"))
    half = run(make_strategy("overlap-average", weight=0.5))
    assert not torch.allclose(half, run("multidiffusion")) and not torch.allclose(half, run("independent"))
    with pytest.raises(ValueError, match="takes no inv_lambda; it takes weight"):
        make_strategy("overlap-average", inv_lambda=5)
    with pytest.raises(ValueError, match="already registered"):
        register_strategy(type("Impostor", (), {"name": "syncsde"}))
    # Long motion takes it too: the pipeline passes the object to the engine untouched.
    assert LongMotionSettings.named("overlap-average").strategy_name == "overlap-average"


def test_a_motion_backend_from_outside_needs_no_command_change(monkeypatch, tmp_path, tiny_embedded):
    monkeypatch.setattr(registry, "LOADERS", list(registry.LOADERS))
    model_file = tmp_path / "walker.toy"
    model_file.write_text("toy")
    loaded: list[Path] = []

    def load(path: Path, options: ModelOptions):
        loaded.append(path)
        return load_motion_model(tiny_embedded, options)

    register_motion_loader(MotionLoader("toy", lambda path: path.suffix == ".toy", load))
    backend = load_motion_model(model_file)
    assert loaded == [model_file] and backend.window == 40
    with pytest.raises(ValueError, match="known model files: embedded, mdm, toy"):
        load_motion_model(tmp_path / "model.bin")
