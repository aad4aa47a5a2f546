"""`syncmotion texture` end to end on the tiny random SD pipeline and a procedural mesh; the depth ControlNet
denoiser; bad meshes refused with one line before any output."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import imageio.v3 as iio
import pytest
import torch
import trimesh
from click.testing import CliRunner
from diffusers import ControlNetModel

from syncmotion.backends.controlnet import ControlledPrompt, ControlNetDenoiser
from syncmotion.backends.stable_diffusion import StableDiffusionDenoiser, load_pipeline
from syncmotion.cli import main
from syncmotion.mesh.texture import sample_texture
from syncmotion_lab.procedural_mesh import atlas_cube, uv_sphere
from syncmotion_lab.tiny_models.tiny_sd import tiny_pipeline

FAST = ["--steps", "2", "--views", "3", "--top-views", "1", "--view-size", "64", "--texture-size", "64",
        "--turntable-frames", "4", "--device", "cpu"]


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("texture")
    pipeline = tiny_pipeline(root / "sd")
    torch.manual_seed(0)
    controlnet = ControlNetModel.from_unet(pipeline.unet, conditioning_embedding_out_channels=(4, 4, 4, 4))
    # A fresh ControlNet's output convolutions start at zero (it adds nothing); random ones make it matter.
    with torch.no_grad():
        for parameter in controlnet.parameters():
            if not parameter.any():
                parameter.normal_(0, 1.0)
    controlnet.save_pretrained(root / "depth")
    uv_sphere(rings=8, segments=16).export(root / "ball.obj")
    return {"root": root, "sd": root / "sd", "controlnet": root / "depth", "ball": root / "ball.obj"}


def run(*arguments: str):
    return CliRunner().invoke(main, ["texture", *arguments])


def test_texture_writes_every_output(folders, tmp_path) -> None:
    out = tmp_path / "out"
    result = run(str(folders["ball"]), "a red ball", "--model", str(folders["sd"]), *FAST, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "4 views" in result.output and "2 UNet calls" in result.output
    names = {path.name for path in out.iterdir()}
    assert {"mesh.obj", "mesh.mtl", "mesh.png", "mesh.glb", "texture.png", "turntable.gif", "turntable.mp4",
            "views.png", "syncmotion-run.json"} <= names
    assert iio.imread(out / "texture.png").shape == (64, 64, 3)
    assert len(iio.imread(out / "turntable.gif", index=None)) == 4
    # Both meshes load back textured, with the original geometry.
    for name in ("mesh.obj", "mesh.glb"):
        back = trimesh.load(out / name, force="mesh")
        assert back.visual.uv is not None and len(back.faces) == len(trimesh.load(folders["ball"], force="mesh").faces)
        material = back.visual.material
        image = getattr(material, "image", None) or getattr(material, "baseColorTexture", None)
        assert image is not None and image.size == (64, 64)
    assert "map_Kd mesh.png" in (out / "mesh.mtl").read_text()
    # Our UV convention (row 0 of the PNG at v = 1) is the formats': trimesh's own lookup at the vertices of the re-read
    # OBJ agrees with ours on texture.png far better than with the image upside down (seen: 0.043 vs 0.119 mean; it
    # takes the nearest texel where we interpolate, on the random pipeline's rough texture).
    back = trimesh.load(out / "mesh.obj", force="mesh")
    theirs = torch.from_numpy(back.visual.to_color().vertex_colors[:, :3].astype("float32") / 255)
    texture = torch.from_numpy(iio.imread(out / "texture.png")).permute(2, 0, 1).float() / 255
    ours = sample_texture(texture, torch.from_numpy(back.visual.uv).float().unsqueeze(0))[:, 0].T
    flipped = sample_texture(texture.flip(-2), torch.from_numpy(back.visual.uv).float().unsqueeze(0))[:, 0].T
    assert (ours - theirs).abs().mean() < 0.5 * (flipped - theirs).abs().mean()
    khronos_validator_agrees(out / "mesh.glb")
    # The sheet: three rows (views, depth, textured renders) of four views.
    assert iio.imread(out / "views.png").shape[:2] == (3 * 192 + 2 * 4, 4 * 192 + 3 * 4)


def khronos_validator_agrees(path: Path) -> None:
    """No error or warning from the Khronos glTF validator on `path`, where node and the validator are installed."""
    npm = shutil.which("npm")
    modules = subprocess.run([npm, "root", "-g"], capture_output=True, text=True).stdout.strip() if npm else ""
    if not modules or not (Path(modules) / "gltf-validator").is_dir() or shutil.which("node") is None:
        return  # tests/test_gltf.py reports the validator's absence as a skip
    script = Path(__file__).parent / "js" / "validate_gltf.cjs"
    result = subprocess.run([shutil.which("node"), str(script), str(path)], capture_output=True, text=True, timeout=60,
                            env={"NODE_PATH": modules, "PATH": "/usr/bin:/bin"})
    issues = json.loads(result.stdout)["issues"]
    assert issues["numErrors"] == 0 and issues["numWarnings"] == 0, issues["messages"]


def test_texture_with_a_depth_controlnet_and_another_strategy(folders, tmp_path) -> None:
    out = tmp_path / "cube"
    atlas_cube().export(tmp_path / "cube.glb")
    result = run(str(tmp_path / "cube.glb"), "a crate", "--model", str(folders["sd"]), *FAST, "--strategy", "synctweedies",
                 "--controlnet", str(folders["controlnet"]), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "depth ControlNet" in result.output and (out / "mesh.glb").is_file()


def test_controlnet_denoiser_follows_its_control_image(folders) -> None:
    pipeline = load_pipeline(str(folders["sd"]), device="cpu")
    controlnet = ControlNetModel.from_pretrained(folders["controlnet"])
    x = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    t = torch.full((2,), 400)
    images = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    conds = [ControlledPrompt("a ball", images[0]), ControlledPrompt("a ball", images[1])]
    same = [ControlledPrompt("a ball", images[0])] * 2
    guided = ControlNetDenoiser(pipeline, controlnet, guidance_scale=5.0, conditioning_scale=1.0)
    out, out_same = guided(x, t, conds), guided(x, t, same)
    assert torch.allclose(out[0], out_same[0], atol=1e-6) and not torch.allclose(out[1], out_same[1], atol=1e-4)
    # At conditioning scale 0 the residuals vanish and it is the plain guided UNet.
    silent = ControlNetDenoiser(pipeline, controlnet, guidance_scale=5.0, conditioning_scale=0.0)
    plain = StableDiffusionDenoiser(pipeline, guidance_scale=5.0)
    torch.testing.assert_close(silent(x, t, conds), plain(x, t, ["a ball", "a ball"]), atol=1e-5, rtol=0)


def _bad_meshes(root: Path) -> dict[str, tuple[Path, list[str], str]]:
    fan = trimesh.Trimesh([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1]], [[0, 1, 2], [0, 1, 3], [0, 1, 4]],
                          process=False)
    fan.export(root / "fan.obj")
    trimesh.PointCloud([[0, 0, 0], [1, 0, 0], [0, 1, 0]]).export(root / "points.ply")
    (root / "broken.glb").write_bytes(b"glTF not really")
    (root / "model.stl").write_text("solid x\nendsolid x\n")
    uv_sphere(rings=8, segments=16).export(root / "big.obj")
    return {
        "missing": (root / "nothing.obj", [], "mesh file not found"),
        "no faces": (root / "points.ply", [], "has no faces"),
        "non-manifold": (root / "fan.obj", [], "non-manifold"),
        "huge": (root / "big.obj", ["--max-faces", "100"], "more than --max-faces 100"),
        "damaged": (root / "broken.glb", [], "cannot read mesh"),
        "format": (root / "model.stl", [], "unsupported mesh format"),
    }


@pytest.mark.parametrize("case", ["missing", "no faces", "non-manifold", "huge", "damaged", "format"])
def test_bad_meshes_get_one_line_and_no_output(folders, tmp_path, case: str) -> None:
    path, extra, message = _bad_meshes(tmp_path)[case]
    out = tmp_path / "out"
    result = run(str(path), "a ball", "--model", str(folders["sd"]), *FAST, *extra, "--out", str(out))
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in result.output, result.output
    assert not out.exists()


@pytest.mark.parametrize("arguments, message", [
    (["--view-size", "100"], "--view-size 100 is not a multiple of 64"),
    (["--azimuths", "front,back"], "give degrees separated by commas"),
    (["--controlnet", "no-such-folder"], "--controlnet no-such-folder: folder not found"),
    (["--elevation", "nan"], "'nan' is not a finite number"),
])
def test_bad_options_get_one_line_and_no_output(folders, tmp_path, monkeypatch, arguments: list[str], message: str) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    result = run(str(folders["ball"]), "a ball", "--model", str(folders["sd"]), *FAST, *arguments, "--out", str(out))
    assert result.exit_code != 0 and message in result.output and "Traceback" not in result.output, result.output
    assert not out.exists()
