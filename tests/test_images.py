"""Stable Diffusion backend and `syncmotion wide` on a tiny random pipeline, checked against diffusers' panorama."""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import pytest
import torch
from click.testing import CliRunner
from diffusers import StableDiffusionPanoramaPipeline

from syncmotion.backends.stable_diffusion import StableDiffusionDenoiser, ddim_scheduler, decode, load_pipeline
from syncmotion.backends.tiny_sd import tiny_pipeline
from syncmotion.cli import main
from syncmotion.commands.wide import panorama_latents


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


@pytest.mark.parametrize("wrap", [False, True])
def test_multidiffusion_reproduces_diffusers_panorama_pipeline(pipeline, wrap: bool) -> None:
    height, width, steps, seed = 512, 704, 3, 7  # 64x88 latent: 4 windows of 64 at stride 8 (11 when wrapped)
    expected = diffusers_panorama(pipeline, "a red boat", height, width, steps, seed, wrap)
    denoiser = StableDiffusionDenoiser(pipeline, guidance_scale=7.5)
    result = panorama_latents(
        denoiser, "a red boat", height // 8, width // 8, window=64, stride=8, wrap=wrap, strategy="multidiffusion",
        steps=steps, seed=seed, progress=False,
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


def test_prediction_type_comes_from_the_scheduler_config(model_dir) -> None:
    v_pipeline = load_pipeline(str(model_dir), device="cpu")
    v_pipeline.scheduler = ddim_scheduler(v_pipeline).from_config(v_pipeline.scheduler.config, prediction_type="v_prediction")
    assert StableDiffusionDenoiser(v_pipeline).prediction_type == "v_prediction"
    assert ddim_scheduler(v_pipeline).config.prediction_type == "v_prediction"


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
        (["a boat", "--model", "{model}", "--window", "80"], "larger than the canvas"),
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
