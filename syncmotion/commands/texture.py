"""`syncmotion texture`: a texture for a mesh from a text prompt, its views synchronized through the UV texture."""

from __future__ import annotations

from pathlib import Path

import click
import imageio.v3 as iio

from syncmotion.files import check_output_folder, output_set
from ..backends.controlnet import ControlNetDenoiser, load_controlnet
from ..mesh.cameras import ring_cameras
from ..mesh.export import write_glb, write_obj
from ..mesh.load import MAX_FACES, MeshError, load_mesh
from ..mesh.texture import render_views
from ..pipelines.texture import TextureSettings, paint
from ..render.turntable import contact_sheet, to_uint8_images, turntable_frames
from ..render.video import write_frames
from .image_options import check_prompt, image_settings, load_denoiser, model_options, sampling_errors
from .params import FiniteFloat

TURNTABLE_FPS = 12


def parse_angles(text: str | None) -> list[float] | None:
    """Comma-separated degrees, or a usage error."""
    if text is None:
        return None
    try:
        angles = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise click.UsageError(f"--azimuths {text!r}: give degrees separated by commas, e.g. 0,90,180,270") from None
    if not angles:
        raise click.UsageError("--azimuths is empty; give degrees separated by commas, e.g. 0,90,180,270")
    return angles


@click.command(context_settings={"default_map": {"steps": 30}})
@click.argument("mesh_path", metavar="MESH", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("prompt")
@click.option("--views", type=click.IntRange(1, 64), default=8, show_default=True,
              help="Cameras evenly round the object at --elevation (view 0 in front).")
@click.option("--top-views", type=click.IntRange(0, 16), default=2, show_default=True,
              help="More cameras at --top-elevation (the paper: 8 + 2 = 10 views).")
@click.option("--elevation", type=FiniteFloat(-89, 89), default=0.0, show_default=True, help="Degrees of the ring of views.")
@click.option("--top-elevation", type=FiniteFloat(-89, 89), default=30.0, show_default=True)
@click.option("--azimuths", default=None, help="Degrees of the ring's cameras, comma-separated (replaces --views).")
@click.option("--view-size", type=click.IntRange(64, 2048), default=512, show_default=True,
              help="Pixels per side of each view (a multiple of 64).")
@click.option("--texture-size", type=click.IntRange(16, 8192), default=1024, show_default=True, help="Texture PNG side.")
@click.option("--latent-texture", type=click.IntRange(8, 2048), default=None,
              help="Side of the latent texture the views meet on (default: about one texel per latent pixel).")
@click.option("--controlnet", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="Diffusers ControlNet folder (depth): each view is conditioned on its depth image.")
@click.option("--control-scale", type=FiniteFloat(0, 4), default=0.8, show_default=True,
              help="ControlNet conditioning scale (the official code ramps 0.7 to 0.9).")
@click.option("--max-faces", type=click.IntRange(min=1), default=MAX_FACES, show_default=True)
@click.option("--turntable-frames", "frame_count", type=click.IntRange(4, 360), default=36, show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("texture"), show_default=True,
              help="Output folder: mesh.obj/.mtl/.png, mesh.glb, texture.png, turntable.gif/.mp4, views.png.")
@model_options
def texture(
    mesh_path: Path, prompt: str, views: int, top_views: int, elevation: float, top_elevation: float,
    azimuths: str | None, view_size: int, texture_size: int, latent_texture: int | None, controlnet: Path | None,
    control_scale: float, max_faces: int, frame_count: int, out: Path, model: str, strategy: str,
    inv_lambda: float, lambda_schedule: str, steps: int, guidance: float, negative_prompt: str, seed: int,
    device: str | None, half: bool, max_batch: int | None,
) -> None:
    """Paint a texture on MESH (.obj, .glb, .ply) for PROMPT from several synchronized views."""
    prompt = check_prompt(prompt)
    if view_size % 64:
        raise click.UsageError(f"--view-size {view_size} is not a multiple of 64; round it (512 suits SD 1.x/2.x)")
    if controlnet is not None and not controlnet.is_dir():
        raise click.UsageError(f"--controlnet {controlnet}: folder not found; pass a diffusers ControlNet folder")
    try:
        check_output_folder(out)
        mesh = load_mesh(mesh_path, max_faces)
    except (MeshError, ValueError) as error:
        raise click.ClickException(str(error)) from None
    cameras = ring_cameras(views, elevation, top_views, top_elevation, parse_angles(azimuths))
    denoiser = load_denoiser(model, device, half, guidance, negative_prompt)
    if controlnet is not None:
        try:
            net = load_controlnet(str(controlnet), denoiser.pipeline)
        except (FileNotFoundError, ValueError) as error:
            raise click.UsageError(str(error)) from None
        denoiser = ControlNetDenoiser(denoiser.pipeline, net, guidance, negative_prompt, control_scale)
    uv_note = " (UVs made by xatlas)" if mesh.uv_source == "xatlas" else ""
    click.echo(f"{mesh_path.name}: {len(mesh.faces):,} faces{uv_note}, {len(cameras)} views, strategy {strategy}"
               + (", depth ControlNet" if controlnet is not None else ""))
    settings = image_settings(strategy, inv_lambda, lambda_schedule, steps, seed, max_batch)
    sizes = TextureSettings(view_size=view_size // 8, texture_size=texture_size, latent_texture=latent_texture)
    try:
        with output_set(out, dict(click.get_current_context().params)) as staging:
            with sampling_errors():
                result = paint(denoiser, mesh, prompt, cameras, settings, sizes)
            picture = to_uint8_images(result.texture.unsqueeze(0))[0]
            write_obj(staging, "mesh", mesh, picture)
            write_glb(staging / "mesh.glb", mesh, picture)
            iio.imwrite(staging / "texture.png", picture, extension=".png")
            frames = turntable_frames(mesh, result.texture, frame_count)
            for suffix in (".gif", ".mp4"):
                write_frames(staging / f"turntable{suffix}", frames, TURNTABLE_FPS)
            # The sheet: the generated views, their depth images, and the textured mesh seen by the same cameras.
            renders = render_views(mesh, result.texture, cameras, result.views.shape[-1], shade=False)
            depth = result.depth.unsqueeze(1).expand(-1, 3, -1, -1)
            iio.imwrite(staging / "views.png", contact_sheet([result.views, depth, renders]), extension=".png")
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    seconds = result.seconds
    click.echo(f"{len(cameras)} views sampled in {seconds['sample']:.1f} s ({seconds['sample'] / len(cameras):.2f} s per view, "
               f"{result.model_calls} UNet calls); rasterizing {seconds['rasterize']:.1f} s, decoding {seconds['decode']:.1f} s, "
               f"baking {seconds['bake']:.1f} s; latent texture {result.latent_texture}x{result.latent_texture}, "
               f"views differ by {result.disagreement:.3f} (latent RMS) on shared texels")
    click.echo(f"  {out}/mesh.obj (+ mesh.mtl, mesh.png), mesh.glb, texture.png, turntable.gif, turntable.mp4, views.png")

