"""The synchronized sampler against diffusers' own sampling, the paper's explicit update and sequential sampling."""

from __future__ import annotations

import pytest
import torch
from diffusers import DDIMScheduler, DPMSolverMultistepScheduler, EulerDiscreteScheduler

from syncmotion.engine import Inpaint, PrecisionTweedies, SyncSDE, sample
from syncmotion.engine.schedulers import scheduler_named
from syncmotion.engine.windows import spatial_windows, temporal_windows, temporal_windows_at
from syncmotion_lab.oracle import GaussianOracle, score_samples, squared_exponential


class TinyDenoiser:
    """A fixed random nonlinear map over the window, conditioned on a per-window scalar and the timestep."""

    def __init__(self, channels: int, frames: int, prediction_type: str = "epsilon") -> None:
        generator = torch.Generator().manual_seed(1)
        self.weight = torch.randn(channels * frames, channels * frames, generator=generator) / (channels * frames) ** 0.5
        self.prediction_type = prediction_type

    def __call__(self, x: torch.Tensor, t: torch.Tensor, conds: list) -> torch.Tensor:
        flat = x.flatten(1)
        cond = torch.tensor([float(c) for c in conds])[:, None]
        out = torch.tanh(flat @ self.weight.T) * (1 + 0.1 * cond) + 1e-4 * t.float()[:, None]
        return out.reshape(x.shape)


def ddim(**overrides) -> DDIMScheduler:
    config = dict(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, clip_sample=False)
    config.update(overrides)
    return DDIMScheduler(**config)


def test_no_overlap_reproduces_diffusers_ddim_sampling() -> None:
    """With M = 0 everywhere (windows that do not overlap) every window is plain diffusers DDIM sampling."""
    scheduler = ddim()
    layout = temporal_windows(length=24, window=12, overlap=0)
    denoiser = TinyDenoiser(channels=3, frames=12)
    result = sample(denoiser, scheduler, layout, [0, 1], latent_shape=(3,), strategy="syncsde", steps=20,
                    generator=torch.Generator().manual_seed(7), progress=False)

    noise = torch.randn((1, 3, 24), generator=torch.Generator().manual_seed(7))
    reference = ddim()
    reference.set_timesteps(20)
    for window, cond in enumerate([0, 1]):
        x = noise[..., window * 12 : (window + 1) * 12].clone()
        for t in reference.timesteps:
            x = reference.step(denoiser(x, t.expand(1), [cond]), t, x).prev_sample
        torch.testing.assert_close(result.windows[:, window], x, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("prediction_type", ["epsilon", "sample", "v_prediction"])
def test_syncsde_epsilon_form_equals_explicit_ddim_update(prediction_type: str) -> None:
    """ε' = ε − M(X̃−y)/(λ_t√(1−ᾱ_t)) with DDIM equals y_{t-1} = DDIM(y, ε) + (γ_t/λ_t) M (X̃ − y)."""
    inv_lambda = 5.0
    layout = temporal_windows(length=30, window=12, overlap=3)
    conds = list(range(layout.num_windows))
    denoiser = TinyDenoiser(channels=2, frames=12, prediction_type=prediction_type)
    scheduler = ddim(prediction_type=prediction_type)
    result = sample(denoiser, scheduler, layout, conds, latent_shape=(2,), strategy=SyncSDE(inv_lambda), steps=15,
                    generator=torch.Generator().manual_seed(3), progress=False)

    scheduler.set_timesteps(15)
    alphas = scheduler.alphas_cumprod
    y = layout.crop(torch.randn((1, 2, 30), generator=torch.Generator().manual_seed(3)))
    first = float(scheduler.timesteps[0])
    for t in scheduler.timesteps:
        prev_t = t - scheduler.config.num_train_timesteps // 15
        alpha, alpha_prev = alphas[t], (alphas[prev_t] if prev_t >= 0 else scheduler.final_alpha_cumprod)
        output = denoiser(y.flatten(0, 1), t.expand(y.shape[1]), conds).reshape(y.shape)
        if prediction_type == "epsilon":
            eps = output
        elif prediction_type == "sample":
            eps = (y - alpha.sqrt() * output) / (1 - alpha).sqrt()
        else:
            eps = alpha.sqrt() * output + (1 - alpha).sqrt() * y
        x0 = (y - (1 - alpha).sqrt() * eps) / alpha.sqrt()
        plain = alpha_prev.sqrt() * x0 + (1 - alpha_prev).sqrt() * eps
        gamma = (alpha_prev / alpha).sqrt() - ((1 - alpha_prev) / (1 - alpha)).sqrt()
        x_tilde, mask = layout.targets(y)
        y = plain + gamma * inv_lambda * float(t) / first * mask * (x_tilde - y)
    torch.testing.assert_close(result.windows, y, rtol=1e-4, atol=1e-4)


def test_lockstep_equals_sequential_windows() -> None:
    """Running all windows together equals window 0 to the end, then window 1 against its stored trajectory, ..."""
    layout = temporal_windows(length=40, window=16, overlap=4)
    conds = [0, 1, 2]
    denoiser = TinyDenoiser(channels=2, frames=16)
    scheduler = ddim()
    lockstep = sample(denoiser, scheduler, layout, conds, latent_shape=(2,), strategy="syncsde", steps=12,
                      generator=torch.Generator().manual_seed(5), progress=False)

    scheduler.set_timesteps(12)
    first = float(scheduler.timesteps[0])
    start = layout.crop(torch.randn((1, 2, 40), generator=torch.Generator().manual_seed(5)))
    trajectories: list[list[torch.Tensor]] = []  # per window, y_t before each step
    for window in range(layout.num_windows):
        y = start[:, window]
        trajectory = []
        for index, t in enumerate(scheduler.timesteps):
            trajectory.append(y)
            eps = denoiser(y, t.expand(1), [conds[window]])
            if window > 0:
                previous = trajectories[window - 1][index]
                shift = layout.starts[window] - layout.starts[window - 1]
                overlap = 16 - shift
                x_tilde = torch.zeros_like(y)
                x_tilde[..., :overlap] = previous[..., shift:]
                mask = torch.zeros(16)
                mask[:overlap] = 1
                b = (1 - scheduler.alphas_cumprod[t]).sqrt()
                eps = eps - 5.0 * float(t) / first * mask * (x_tilde - y) / b
            y = scheduler.step(eps, t, y).prev_sample
        trajectories.append(trajectory)
        torch.testing.assert_close(lockstep.windows[:, window], y, rtol=1e-5, atol=1e-5)


def oracle_seam_error(strategy: str, scheduler=None) -> float:
    """Relative error of the empirical covariance across seams against the true long process."""
    scheduler = scheduler or ddim()
    window, length = 24, 64
    layout = temporal_windows(length=length, window=window, overlap=6)
    oracle = GaussianOracle(scheduler, [squared_exponential(window, 4.0)])
    truth = GaussianOracle(scheduler, [squared_exponential(length, 4.0)]).covariance().float()
    result = sample(oracle, scheduler, layout, [None] * layout.num_windows, strategy=strategy, steps=25,
                    batch_size=3000, generator=torch.Generator().manual_seed(0), progress=False)
    return score_samples(result.canvas, truth, layout.starts[1:], reach=window)["seam_cov_error"]


def test_syncsde_beats_independent_on_the_oracle_seams() -> None:
    """Synchronization must restore the cross-seam covariance that independent windows lose."""
    independent = oracle_seam_error("independent")
    synchronized = oracle_seam_error("syncsde")
    assert synchronized < 0.6 * independent, (synchronized, independent)


def oracle_errors_over_floor(layout, window_dims: tuple[int, ...], lengthscale: float) -> dict[str, dict[str, float]]:
    """Each strategy's five oracle errors divided by those of DDIM on one window over the whole canvas."""
    scheduler = ddim(timestep_spacing="trailing")
    axes = [squared_exponential(size, lengthscale) for size in window_dims[:-1]]
    oracle = GaussianOracle(scheduler, [*axes, squared_exponential(window_dims[-1], lengthscale)])
    whole_oracle = GaussianOracle(scheduler, [*axes, squared_exponential(layout.canvas_dims[-1], lengthscale)])
    truth = whole_oracle.covariance()
    seams = [start if isinstance(start, int) else start[-1] for start in layout.starts[1:]]
    whole = temporal_windows(layout.canvas_dims[-1], layout.canvas_dims[-1], 0) if len(window_dims) == 1 else \
        spatial_windows(*layout.canvas_dims, layout.canvas_dims, 1)

    def errors(denoiser, windows, strategy) -> dict[str, float]:
        result = sample(denoiser, scheduler, windows, [None] * windows.num_windows, strategy=strategy, steps=12,
                        batch_size=1500, generator=torch.Generator().manual_seed(0), progress=False)
        return score_samples(result.canvas, truth, seams, reach=window_dims[-1])

    floor = errors(whole_oracle, whole, "independent")
    return {name: {metric: value / floor[metric] for metric, value in errors(oracle, layout, name).items()}
            for name in ("precisiontweedies", "synctweedies")}


@pytest.mark.parametrize("two_dimensional", [False, True])
def test_precisiontweedies_keeps_every_oracle_metric_near_the_ddim_floor(two_dimensional: bool) -> None:
    """The interior-weighted fusion stays within 1.2x of exact-score DDIM on all five errors; the equal average does not."""
    if two_dimensional:
        ratios = oracle_errors_over_floor(spatial_windows(8, 20, 8, 4), (8, 8), 2.0)
    else:
        ratios = oracle_errors_over_floor(temporal_windows(length=64, window=24, overlap=8), (24,), 4.0)
    assert max(ratios["precisiontweedies"].values()) < 1.2, ratios
    assert max(ratios["synctweedies"].values()) > 1.5, ratios


def test_merge_interior_runs_from_the_mean_to_the_deepest_window() -> None:
    layout = temporal_windows(length=10, window=6, overlap=2)
    windows = torch.stack([torch.zeros(1, 1, 6), torch.ones(1, 1, 6)], dim=1)
    torch.testing.assert_close(layout.merge_interior(windows, 0.0), layout.merge(windows, "mean"))
    torch.testing.assert_close(layout.merge_interior(windows, 1.0), layout.merge(windows, "crossfade"))
    # Shares 0.25 and 0.75 on the overlap: to the power 4 the deeper window counts 81 times as much.
    torch.testing.assert_close(layout.merge_interior(windows, 4.0)[0, 0, 4:6], torch.tensor([1 / 82, 81 / 82]))
    steep = layout.merge_interior(windows, 64.0)[0, 0]
    assert bool(torch.isfinite(steep).all()) and steep.round().tolist() == [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]


def test_oracle_scores_a_2d_field_along_its_columns_as_1d_scores_a_row() -> None:
    """A field one row high scores exactly like the same samples as 1D frames; exact 2D draws score near zero."""
    truth = squared_exponential(30, 3.0)
    draws = torch.randn(500, 30, generator=torch.Generator().manual_seed(0), dtype=torch.float64) @ torch.linalg.cholesky(truth).T
    assert score_samples(draws[:, None, :], truth, [10, 20], reach=8) == score_samples(draws, truth, [10, 20], reach=8)
    field = torch.kron(squared_exponential(6, 2.0), truth)
    draws = torch.randn(4000, 180, generator=torch.Generator().manual_seed(1), dtype=torch.float64) @ torch.linalg.cholesky(field).T
    scores = score_samples(draws.reshape(-1, 6, 30), field, [10, 20], reach=8)
    assert scores["var_error"] < 0.05 and scores["seam_step_error"] < 0.05, scores


@pytest.mark.parametrize("scheduler_class", [DPMSolverMultistepScheduler, EulerDiscreteScheduler])
def test_syncsde_works_with_other_diffusers_schedulers(scheduler_class) -> None:
    """The ε form makes SyncSDE usable with any scheduler: it still repairs the seams."""
    scheduler = scheduler_class(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012)
    assert oracle_seam_error("syncsde", scheduler) < 0.6 * oracle_seam_error("independent", scheduler)


def test_same_seed_same_result_and_max_batch_does_not_change_it() -> None:
    layout = spatial_windows(height=8, width=24, window=8, stride=4)
    denoiser = TinyDenoiser(channels=2, frames=64)
    runs = [
        sample(denoiser, ddim(), layout, [1] * layout.num_windows, latent_shape=(2,), steps=5, max_batch=batch,
               generator=torch.Generator().manual_seed(11), progress=False)
        for batch in (None, None, 2)
    ]
    assert torch.equal(runs[0].canvas, runs[1].canvas)
    torch.testing.assert_close(runs[0].canvas, runs[2].canvas)
    assert runs[0].model_calls == 5 and runs[2].model_calls == 5 * 3


def test_multidiffusion_and_synctweedies_keep_overlaps_identical() -> None:
    """The canvas-averaging strategies leave every overlap with one value shared by the windows."""
    layout = temporal_windows(length=28, window=12, overlap=4)
    for strategy in ("multidiffusion", "synctweedies", "precisiontweedies"):
        result = sample(TinyDenoiser(1, 12), ddim(), layout, [0, 1, 2], latent_shape=(1,), strategy=strategy,
                        steps=8, generator=torch.Generator().manual_seed(2), progress=False)
        torch.testing.assert_close(layout.crop(layout.merge(result.windows, "mean")), result.windows)


def test_handshake_blends_each_overlap_linearly_unlike_multidiffusion() -> None:
    """DoubleTake's first take: windows share their overlap, and it is the cross-fade of the two, not their mean."""
    layout = temporal_windows(length=28, window=12, overlap=4)
    runs = {strategy: sample(TinyDenoiser(1, 12), ddim(), layout, [0, 1, 2], latent_shape=(1,), strategy=strategy,
                             steps=8, generator=torch.Generator().manual_seed(2), progress=False)
            for strategy in ("handshake", "multidiffusion")}
    windows = runs["handshake"].windows
    torch.testing.assert_close(layout.crop(layout.merge(windows, "crossfade")), windows)
    assert not torch.allclose(windows, runs["multidiffusion"].windows, atol=1e-3)


def test_init_and_start_step_reproduce_diffusers_sdedit() -> None:
    """From a clean canvas noised to step 6 of 20, each window is diffusers DDIM over the remaining 14 steps."""
    layout = temporal_windows(length=24, window=12, overlap=0)
    denoiser = TinyDenoiser(channels=3, frames=12)
    init = torch.randn((1, 3, 24), generator=torch.Generator().manual_seed(3))
    result = sample(denoiser, ddim(), layout, [0, 1], latent_shape=(3,), strategy="independent", steps=20,
                    generator=torch.Generator().manual_seed(7), progress=False, init=init, start_step=6)
    assert result.model_calls == 14
    noise = torch.randn((1, 3, 24), generator=torch.Generator().manual_seed(7))
    reference = ddim()
    reference.set_timesteps(20)
    noisy = reference.add_noise(init, noise, reference.timesteps[6:7])
    for window, cond in enumerate([0, 1]):
        x = noisy[..., window * 12 : (window + 1) * 12].clone()
        for t in reference.timesteps[6:]:
            x = reference.step(denoiser(x, t.expand(1), [cond]), t, x).prev_sample
        torch.testing.assert_close(result.windows[:, window], x, rtol=1e-5, atol=1e-5)


def test_inpaint_keeps_the_known_part_and_generates_the_rest() -> None:
    """Where M = 1 the result is the known content exactly; where M = 0 it is what the model makes alone."""
    layout = temporal_windows(length=12, window=12, overlap=0)
    denoiser = TinyDenoiser(channels=2, frames=12)
    known = torch.full((1, 1, 2, 12), 0.7)
    mask = torch.zeros(1, 1, 12)
    mask[..., :5] = 1.0

    def run(strategy):
        return sample(denoiser, ddim(), layout, [0], latent_shape=(2,), strategy=strategy, steps=10, progress=False,
                      generator=torch.Generator().manual_seed(5), init=known[:, 0], start_step=3).canvas

    inpainted, free = run(Inpaint(known, mask)), run("independent")
    torch.testing.assert_close(inpainted[..., :5], known[:, 0, :, :5])
    assert not torch.allclose(free[..., :5], known[:, 0, :, :5], atol=1e-2)
    assert not torch.allclose(inpainted[..., 5:], known[:, 0, :, 5:], atol=1e-2)
    torch.testing.assert_close(run(Inpaint(known, torch.zeros(1, 1, 12))), free)


def test_stitching_modes() -> None:
    layout = temporal_windows(length=10, window=6, overlap=2)
    windows = torch.stack([torch.zeros(1, 1, 6), torch.ones(1, 1, 6)], dim=1)  # [B=1, N=2, lat=1, 6]
    pasted = layout.merge(windows, "paste")[0, 0]
    assert pasted.tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 1, 1]
    faded = layout.merge(windows, "crossfade")[0, 0]
    torch.testing.assert_close(faded[4:6], torch.tensor([0.25, 0.75]))
    assert layout.merge(windows, "mean")[0, 0, 4:6].tolist() == [0.5, 0.5]


def test_last_window_is_aligned_to_the_canvas_end() -> None:
    layout = temporal_windows(length=50, window=20, overlap=5)
    assert layout.starts == [0, 15, 30]
    assert layout.mask[2].sum() == 5
    layout = temporal_windows(length=52, window=20, overlap=5)
    assert layout.starts[-1] == 32 and layout.mask[-1].sum() == 20 - (32 - 30)


def test_tapered_mask_fades_the_pull_out_across_the_overlap() -> None:
    binary = temporal_windows(length=28, window=12, overlap=4)
    tapered = temporal_windows(length=28, window=12, overlap=4, taper=True)
    assert (tapered.mask > 0).equal(binary.mask > 0)  # pulled on the same positions
    overlap = tapered.mask[1, :4]
    assert bool((overlap.diff() < 0).all()) and overlap[0] > 0.95 and overlap[-1] < 0.05
    # The pull is weighted by M, not only gated by it.
    windows = torch.stack([torch.zeros(1, 1, 12), torch.ones(1, 1, 12), torch.ones(1, 1, 12)], dim=1)
    torch.testing.assert_close(tapered.pull(windows)[0, 1, 0, :4], -overlap)
    torch.testing.assert_close(binary.pull(windows)[0, 1, 0, :4], -torch.ones(4))


class ShrinkDenoiser:
    """Predicts the clean sample halfway between the noisy one and a constant per window (its condition)."""

    prediction_type = "sample"

    def __call__(self, x: torch.Tensor, t: torch.Tensor, conds: list) -> torch.Tensor:
        return 0.5 * x + 0.5 * torch.tensor([float(c) for c in conds]).view(-1, *[1] * (x.dim() - 1))


def test_tapered_mask_leaves_no_step_where_the_overlap_ends() -> None:
    """Window 1 wants 4 where window 0 wants 0: a binary pull drags it toward 0 up to the overlap's last position and
    lets go at once (a step in its mean over samples); a tapered pull hands over gradually."""
    steps = {}
    for taper in (False, True):
        layout = temporal_windows(length=32, window=24, overlap=16, taper=taper)
        result = sample(ShrinkDenoiser(), ddim(), layout, [0, 4], latent_shape=(1,), strategy=SyncSDE(10.0), steps=30,
                        batch_size=256, generator=torch.Generator().manual_seed(0), progress=False)
        mean_profile = result.windows[:, 1, 0].mean(0)
        steps[taper] = float(mean_profile.diff(n=2).abs().max())
    assert steps[False] > 0.5 and steps[True] < 0.2 * steps[False]


def test_wrapped_spatial_windows_pull_the_last_window_onto_the_first() -> None:
    layout = spatial_windows(height=4, width=16, window=4, stride=4, wrap=True)
    assert layout.num_windows == 4
    assert layout.mask[0].sum() == 0 and layout.mask[1].sum() == 0
    layout = spatial_windows(height=4, width=16, window=(4, 8), stride=4, wrap=True)
    assert layout.mask[-1].sum() == 4 * 8  # left half on window 2, right half wraps onto window 0


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: temporal_windows(length=100, window=20, overlap=20), "overlap"),
        (lambda: temporal_windows(length=100, window=20, overlap=-1), "overlap"),
        (lambda: temporal_windows(length=10, window=20, overlap=2), "longer than the canvas"),
        (lambda: temporal_windows_at(length=50, window=20, starts=[0, 0, 30]), "increasing"),
        (lambda: temporal_windows_at(length=50, window=20, starts=[0, 31]), "do not fit"),
        (lambda: temporal_windows_at(length=45, window=20, starts=[0, 25]), "uncovered"),
        (lambda: spatial_windows(height=8, width=8, window=16, stride=8), "larger than the canvas"),
        (lambda: spatial_windows(height=8, width=32, window=8, stride=12), "stride"),
        (lambda: SyncSDE(inv_lambda=0.0), "positive"),
        (lambda: SyncSDE(inv_lambda=-1.0), "positive"),
        (lambda: PrecisionTweedies(power=-1.0), "power"),
        (lambda: Inpaint(torch.zeros(1), torch.tensor([1.5])), r"\[0, 1\]"),
    ],
)
def test_bad_parameters_raise_one_clear_error(build, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


def test_mismatched_condition_count_and_unknown_names() -> None:
    layout = temporal_windows(length=30, window=12, overlap=3)
    denoiser = TinyDenoiser(1, 12)
    with pytest.raises(ValueError, match="one per window"):
        sample(denoiser, ddim(), layout, [0], latent_shape=(1,), steps=2, progress=False)
    with pytest.raises(ValueError, match="unknown strategy"):
        sample(denoiser, ddim(), layout, [0, 1, 2], latent_shape=(1,), strategy="magic", steps=2, progress=False)
    with pytest.raises(ValueError, match="stitch"):
        sample(denoiser, ddim(), layout, [0, 1, 2], latent_shape=(1,), stitch="glue", steps=2, progress=False)
    with pytest.raises(ValueError, match="init canvas"):
        sample(denoiser, ddim(), layout, [0, 1, 2], latent_shape=(1,), steps=2, progress=False, start_step=1)
    with pytest.raises(ValueError, match="start_step"):
        sample(denoiser, ddim(), layout, [0, 1, 2], latent_shape=(1,), steps=2, progress=False,
               init=torch.zeros(1, 1, 30), start_step=2)
    with pytest.raises(ValueError, match="expected"):
        sample(denoiser, ddim(), layout, [0, 1, 2], latent_shape=(1,), steps=2, progress=False, init=torch.zeros(1, 30))


@pytest.mark.parametrize("name", ["ddim", "dpmsolver++", "unipc"])
def test_a_named_solver_keeps_the_models_schedule_and_repairs_seams(name: str) -> None:
    base = ddim(prediction_type="sample", timestep_spacing="leading")
    solver = scheduler_named(base, name)
    assert torch.equal(solver.alphas_cumprod, base.alphas_cumprod)
    assert solver.config.prediction_type == "sample" and solver.config.timestep_spacing == "leading"
    spaced = scheduler_named(base, name, "linspace")
    spaced.set_timesteps(20)
    # Every solver starts at pure noise; the multistep ones end their last step at t = 0 from the lowest timestep.
    assert int(spaced.timesteps[0]) == 999 and bool((spaced.timesteps.diff() < 0).all()), spaced.timesteps
    assert oracle_seam_error("syncsde", solver) < 0.6 * oracle_seam_error("independent", solver)


def test_an_unknown_solver_or_spacing_is_one_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown scheduler 'euler'; choose one of ddim, dpmsolver\\+\\+, unipc"):
        scheduler_named(ddim(), "euler")
    with pytest.raises(ValueError, match="unknown timestep spacing 'even'"):
        scheduler_named(ddim(), "ddim", "even")


def test_more_steps_than_the_model_was_trained_with_is_one_clear_error_for_every_solver() -> None:
    layout = temporal_windows(length=16, window=8, overlap=2)
    for scheduler in (ddim(), scheduler_named(ddim(), "dpmsolver++", "linspace")):
        with pytest.raises(ValueError, match="999999999 steps are more than the 1000 timesteps the model was trained with"):
            sample(TinyDenoiser(1, 8), scheduler, layout, [0] * layout.num_windows, latent_shape=(1,), steps=999_999_999,
                   progress=False)
