"""Image tasks on a tiny random SD pipeline: the backend, `wide` checked against diffusers' panorama pipeline,
and the mask-based T2I and visual-anagram layouts and commands."""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from diffusers import StableDiffusionPanoramaPipeline

from syncmotion.backends.stable_diffusion import (
    StableDiffusionDenoiser, ddim_scheduler, decode, load_pipeline,
)
from syncmotion.cli import main
from syncmotion.commands.image_options import read_prompts
from syncmotion.engine import make_strategy
from syncmotion.engine.image_layouts import VIEWS, AnagramLayout, MaskedLayout, apply_view
from syncmotion.pipelines.images import ImageSettings, panorama_latents, sample_layout
from syncmotion_lab.tiny_models.tiny_sd import tiny_pipeline


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tiny_sd")
    tiny_pipeline(folder)
    return folder


@pytest.fixture(scope="module")
def pipeline(model_dir):
    return load_pipeline(str(model_dir), device="cpu")


def diffusers_panorama(pipeline, prompt: str, height: int, width: int, steps: int, seed: int, wrap: bool):
    components = {name: part for name, part in pipeline.components.items() if name != "image_encoder"}
    panorama = StableDiffusionPanoramaPipeline(**components | {"scheduler": ddim_scheduler(pipeline)})
    panorama.set_progress_bar_config(disable=True)
    return panorama(
        prompt, height=height, width=width, num_inference_steps=steps, generator=torch.Generator().manual_seed(seed),
        output_type="latent", circular_padding=wrap,
    ).images


@pytest.mark.parametrize(("wrap", "prediction_type"), [(False, "epsilon"), (True, "epsilon"), (False, "v_prediction")])
def test_multidiffusion_reproduces_diffusers_panorama_pipeline(model_dir, wrap: bool, prediction_type: str) -> None:
    pipeline = load_pipeline(str(model_dir), device="cpu")
    pipeline.scheduler = ddim_scheduler(pipeline).from_config(pipeline.scheduler.config, prediction_type=prediction_type)
    height, width, steps, seed = 512, 704, 3, 7  # 64x88 latent: 4 windows of 64 at stride 8 (11 when wrapped)
    expected = diffusers_panorama(pipeline, "a red boat", height, width, steps, seed, wrap)
    denoiser = StableDiffusionDenoiser(pipeline, guidance_scale=7.5)
    assert denoiser.prediction_type == prediction_type
    result = panorama_latents(
        denoiser, "a red boat", height // 8, width // 8, window=64, stride=8, wrap=wrap,
        settings=ImageSettings(strategy=make_strategy("multidiffusion"), steps=steps, seed=seed, progress=False),
    )
    assert result.canvas.shape == expected.shape
    scale = expected.abs().max()
    assert torch.allclose(result.canvas, expected, atol=1e-5 * scale, rtol=0)
    assert result.model_calls == steps  # all windows in one batched UNet call per step


def test_guidance_batches_both_halves_and_caches_prompt_embeddings(pipeline) -> None:
    denoiser = StableDiffusionDenoiser(pipeline, guidance_scale=5.0)
    x = torch.randn(3, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    t = torch.full((3,), 500)
    out = denoiser(x, t, ["a cat", "a dog", "a cat"])
    assert denoiser.unet_calls == 1 and set(denoiser._embeddings) == {"a cat", "a dog"}
    positive, negative = denoiser.embeddings("a dog")
    with torch.inference_mode():
        cond = pipeline.unet(x[1:2], t[1:2], encoder_hidden_states=positive).sample
        uncond = pipeline.unet(x[1:2], t[1:2], encoder_hidden_states=negative).sample
    assert torch.allclose(out[1:2], uncond + 5.0 * (cond - uncond), atol=1e-5)
    assert not torch.allclose(out[0], out[1])


def test_tiled_decode_stays_close_to_the_whole_decode(pipeline) -> None:
    latents = torch.randn(1, 4, 8, 40, generator=torch.Generator().manual_seed(1))
    tiled = decode(pipeline, latents)  # the tiny VAE tiles every 8 latent pixels
    pipeline.vae.disable_tiling()
    with torch.inference_mode():
        whole = (pipeline.vae.decode(latents / pipeline.vae.config.scaling_factor).sample / 2 + 0.5).clamp(0, 1)
    assert tiled.shape == (1, 3, 64, 320)
    assert (tiled - whole).abs().mean() < 0.1


def test_wrapped_decode_joins_the_right_edge_to_the_left(pipeline) -> None:
    latents = torch.randn(1, 4, 8, 40, generator=torch.Generator().manual_seed(2))
    image = decode(pipeline, latents, wrap=True)[0]
    assert image.shape == (3, 64, 320)
    rolled = decode(pipeline, latents.roll(20, dims=-1), wrap=True)[0]
    # Decoding with the wrap padding sees the same neighbourhood at the seam wherever the cut is.
    middle = rolled[..., 160 - 8 : 160 + 8]
    edge = torch.cat([image[..., -8:], image[..., :8]], dim=-1)
    assert (middle - edge).abs().mean() < 0.1


@pytest.mark.parametrize("path", sorted(Path(__file__).resolve().parent.parent.glob("sequences/*.prompts")))
def test_prompt_files_hold_prompts(path: Path) -> None:
    prompts = read_prompts(path)
    assert len(prompts) >= 3 and all(not p.startswith("#") and len(p) > 10 for p in prompts)


def test_wide_command_writes_a_png(model_dir, tmp_path) -> None:
    out = tmp_path / "pano.png"
    result = CliRunner().invoke(
        main, ["wide", "a red boat", "--model", str(model_dir), "--width", "768", "--height", "512", "--steps", "2",
               "--device", "cpu", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert iio.imread(out).shape == (512, 768, 3)
    assert "3 windows, 2 UNet calls" in result.output


def test_prompts_file_writes_one_image_per_prompt(model_dir, tmp_path) -> None:
    prompts = tmp_path / "p.prompts"
    prompts.write_text("# comment\na red boat\n\na blue sky\n")
    out = tmp_path / "pano.png"
    result = CliRunner().invoke(
        main, ["wide", "--prompts", str(prompts), "--model", str(model_dir), "--width", "512", "--height", "512",
               "--steps", "1", "--device", "cpu", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.glob("pano-*.png")) == ["pano-000.png", "pano-001.png"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["a boat", "--model", "{missing}"], "model folder not found"),
        (["a boat", "--model", "{model}", "--width", "1004"], "width 1004 is not a positive multiple of 8"),
        (["a boat", "--model", "{model}", "--height", "500"], "height 500 is not a positive multiple of 8"),
        (["a boat", "--model", "{model}", "--window", "80"], "--window 80 (640 px) is larger than the 2048x512 image"),
        (["a boat", "--model", "{model}", "--half"], "--half needs a GPU"),
        (["   ", "--model", "{model}"], "prompt is empty"),
        (["--model", "{model}"], "give either a PROMPT or --prompts FILE"),
    ],
)
def test_bad_input_gives_one_clear_error(model_dir, tmp_path, arguments, message) -> None:
    filled = [a.format(model=model_dir, missing=tmp_path / "no_such_model") for a in arguments]
    out = tmp_path / "out.png"
    result = CliRunner().invoke(main, ["wide", *filled, "--out", str(out), "--device", "cpu"])
    assert result.exit_code != 0
    assert message in result.output
    assert not out.exists()


def random_windows(count: int, size: int = 6, seed: int = 0) -> torch.Tensor:
    return torch.randn(2, count, 4, size, size, generator=torch.Generator().manual_seed(seed))


def half_mask(size: int = 6) -> torch.Tensor:
    mask = torch.zeros(size, size)
    mask[:, size // 2 :] = 1
    return mask


def test_masked_pull_is_the_official_correction() -> None:
    mask = half_mask()
    windows = random_windows(3)
    pull = MaskedLayout(mask).pull(windows)
    y0, y1, y2 = windows.unbind(1)
    assert torch.equal(pull[:, 0], torch.zeros_like(y0))
    assert torch.allclose(pull[:, 1], (1 - mask) * (y0 - y1))
    assert torch.allclose(pull[:, 2], (1 - mask) * (y0 - y2) + mask * (y1 - y2))


def test_masked_mean_merge_is_the_region_composite_in_every_slot() -> None:
    mask = half_mask()
    layout = MaskedLayout(mask)
    windows = random_windows(3)
    assert torch.equal(layout.crop(layout.merge(windows, "paste")), windows)
    averaged = layout.crop(layout.merge(windows, "mean"))
    composite = (1 - mask) * windows[:, 0] + mask * windows[:, 1]
    for slot in range(3):
        assert torch.allclose(averaged[:, slot], composite)
    # Whole-image windows have no edges, so precisiontweedies' interior weighting is the mean here.
    assert torch.equal(layout.merge_interior(windows, 4.0), layout.merge(windows, "mean"))


@pytest.mark.parametrize("view", VIEWS)
def test_views_invert_and_anagram_pull_targets_the_view_of_window_0(view: str) -> None:
    windows = random_windows(2)
    assert torch.equal(apply_view(apply_view(windows, view), view, inverse=True), windows)
    assert not torch.equal(apply_view(windows, view), windows)
    layout = AnagramLayout(6, 6, view)
    pull = layout.pull(windows)
    assert torch.equal(pull[:, 0], torch.zeros_like(pull[:, 0]))
    assert torch.allclose(pull[:, 1], apply_view(windows[:, 0], view) - windows[:, 1])
    averaged = layout.crop(layout.merge(windows, "mean"))
    assert torch.allclose(averaged[:, 1], apply_view(averaged[:, 0], view))


def test_quarter_turn_needs_a_square_and_the_view_must_exist() -> None:
    with pytest.raises(ValueError, match="square"):
        AnagramLayout(6, 8, "rotate_cw")
    with pytest.raises(ValueError, match="unknown view"):
        AnagramLayout(6, 6, "mirror")
    AnagramLayout(6, 8, "flip")


@pytest.fixture(scope="module")
def denoiser(pipeline) -> StableDiffusionDenoiser:
    return StableDiffusionDenoiser(pipeline)


def anagram_gap(denoiser, strategy: str) -> float:
    layout = AnagramLayout(8, 8, "flip")
    result = sample_layout(denoiser, layout, ["a duck", "a rabbit"],
                           ImageSettings(strategy=make_strategy(strategy), steps=8, seed=0, progress=False))
    return float((result.windows[:, 1] - apply_view(result.windows[:, 0], "flip")).abs().mean())


def test_syncsde_brings_the_anagram_view_toward_window_0(denoiser) -> None:
    assert anagram_gap(denoiser, "syncsde") < 0.5 * anagram_gap(denoiser, "independent")
    assert anagram_gap(denoiser, "multidiffusion") < 1e-6


def test_masked_output_follows_the_background_off_the_mask(denoiser) -> None:
    mask = half_mask(8)
    gaps = {}
    for strategy in ("syncsde", "independent"):
        result = sample_layout(
            denoiser, MaskedLayout(mask), ["a beach", "a boat", "a beach with a boat"],
            ImageSettings(strategy=make_strategy(strategy), steps=8, progress=False),
        )
        gaps[strategy] = float(((1 - mask) * (result.windows[:, 2] - result.windows[:, 0])).abs().mean())
    assert gaps["syncsde"] < 0.5 * gaps["independent"]


def write_mask(path: Path, white_fraction: float) -> Path:
    image = np.zeros((64, 64), dtype=np.uint8)
    image[:, : int(64 * white_fraction)] = 255
    iio.imwrite(path, image)
    return path


def test_masked_t2i_command_writes_the_output_image(model_dir, tmp_path) -> None:
    out = tmp_path / "masked.png"
    result = CliRunner().invoke(main, [
        "masked-t2i", "a beach", "a boat", "--mask", str(write_mask(tmp_path / "m.png", 0.5)), "--model",
        str(model_dir), "--width", "64", "--height", "64", "--steps", "2", "--device", "cpu", "--out", str(out),
    ])
    assert result.exit_code == 0, result.output
    assert iio.imread(out).shape == (64, 64, 3)


def test_anagram_command_writes_the_image_and_its_view(model_dir, tmp_path) -> None:
    out = tmp_path / "anagram.png"
    result = CliRunner().invoke(main, [
        "anagram", "a duck", "a rabbit", "--view", "rotate_cw", "--model", str(model_dir), "--size", "64",
        "--steps", "2", "--device", "cpu", "--out", str(out),
    ])
    assert result.exit_code == 0, result.output
    first, turned = iio.imread(out), iio.imread(tmp_path / "anagram-view.png")
    assert np.array_equal(np.rot90(first, -1), turned)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["masked-t2i", "a beach", "a boat", "--mask", "{black}"], "all black"),
        (["masked-t2i", "a beach", " ", "--mask", "{half}"], "object prompt is empty"),
        (["masked-t2i", "a beach", "a boat", "--mask", "{half}", "--width", "100"], "not a positive multiple of 8"),
        (["anagram", "", "a rabbit"], "first prompt is empty"),
        (["anagram", "a duck", "a rabbit", "--size", "60"], "not a positive multiple of 8"),
        (["anagram", "a duck", "a rabbit", "--model", "{tmp}/none"], "model folder not found"),
    ],
)
def test_bad_task_input_gives_one_clear_error(model_dir, tmp_path, arguments, message) -> None:
    names = {"black": write_mask(tmp_path / "black.png", 0.0), "half": write_mask(tmp_path / "half.png", 0.5),
             "tmp": tmp_path}
    filled = [argument.format(**names) for argument in arguments]
    if "--model" not in filled:
        filled += ["--model", str(model_dir)]
    out = tmp_path / "out.png"
    result = CliRunner().invoke(main, [*filled, "--steps", "1", "--device", "cpu", "--out", str(out)])
    assert result.exit_code != 0
    assert message in result.output
    assert not out.exists()


COMMANDS = {
    "wide": ["wide", "a boat"],
    "masked-t2i": ["masked-t2i", "a beach", "a boat", "--mask", "{half}"],
    "anagram": ["anagram", "a duck", "a rabbit"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--inv-lambda", "0"], "Invalid value for '--inv-lambda'"),
        (["--guidance", "-3"], "Invalid value for '--guidance'"),
        (["--guidance", "nan"], "'nan' is not a finite number"),
        (["--inv-lambda", "inf"], "'inf' is not a finite number"),
        (["--device", "meta"], "cannot run on the 'meta' device"),
        (["--device", "cuda:9"], "Invalid value for '--device'"),
        (["--seed", "-1"], "Invalid value for '--seed'"),
        (["--out", "{file}/out.png"], "is a file, not a folder"),
        (["--out", "out.jpg"], "give a .png file name"),
    ],
)
def test_bad_sampling_options_fail_before_loading_the_model(monkeypatch, tmp_path, command, option, message) -> None:
    def no_loading(*args, **kwargs):
        raise AssertionError("the model was loaded before the options were checked")

    monkeypatch.setattr("syncmotion.commands.image_options.load_pipeline", no_loading)
    arguments = [a.format(half=write_mask(tmp_path / "half.png", 0.5)) for a in COMMANDS[command]]
    (tmp_path / "a-file").write_text("not a folder")
    option = [a.format(file=tmp_path / "a-file") for a in option]
    out = tmp_path / "out.png"
    result = CliRunner().invoke(main, [*arguments, "--model", str(tmp_path), "--out", str(out), *option])
    assert result.exit_code in (1, 2), result.output
    assert message in result.output and "Traceback" not in result.output
    assert not out.exists() and not (tmp_path / "a-file" / "out.png").exists()


def test_a_sampling_value_error_is_one_line_not_a_traceback(monkeypatch, model_dir, tmp_path) -> None:
    def bad_sampling(*args, **kwargs):
        raise ValueError("inv_lambda must be positive (got 0.0); the paper's default is 5")

    monkeypatch.setattr("syncmotion.commands.anagram.sample_layout", bad_sampling)
    result = CliRunner().invoke(
        main, ["anagram", "a duck", "a rabbit", "--model", str(model_dir), "--size", "64", "--device", "cpu",
               "--out", str(tmp_path / "out.png")],
    )
    assert result.exit_code == 1
    assert result.output == "Error: inv_lambda must be positive (got 0.0); the paper's default is 5\n"
