"""Mesh texturing on the engine: views of a mesh are windows synchronized through its UV texture (SyncSDE's recipe).

Each view is rasterized once at the latent size: which latent texel each latent pixel sees. Those maps make a
TexelLayout, the engine samples all views in lockstep (view 0 free, view i pulled toward the texture baked from
views 0..i−1), the views are decoded and baked into an RGB texture by projecting every texel into every view.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from syncmotion.backends.controlnet import ControlledPrompt, ControlNetDenoiser
from syncmotion.backends.stable_diffusion import StableDiffusionDenoiser, decode
from syncmotion.engine.texel_layout import TexelLayout
from syncmotion.mesh.cameras import Camera, direction_word
from syncmotion.mesh.load import UVMesh
from syncmotion.mesh.texture import bake, depth_image, fill_unseen, pixel_uv, texel_index, view_raster

from .images import ImageSettings, sample_layout

# Mean distinct texels per covered latent pixel the automatic latent texture size aims at: about one texel per
# pixel and a half, so that views meeting on the surface share texels (a finer texture would leave them apart).
TEXELS_PER_PIXEL = 0.6
LATENT_TEXTURE_SIZES = tuple(range(8, 1025, 8))


@dataclass(frozen=True)
class TextureSettings:
    """Sizes of a texturing run (latent view side, RGB texture side, latent texture side or None for automatic)."""

    view_size: int = 64
    texture_size: int = 1024
    latent_texture: int | None = None
    bake_power: float = 2.0


@dataclass
class TextureResult:
    """What a texturing run made."""

    views: torch.Tensor  # decoded views [N, 3, H, W] in [0, 1]
    texture: torch.Tensor  # RGB texture [3, S, S] in [0, 1], unseen texels filled from the nearest seen ones
    seen: torch.Tensor  # [S, S] bool: texels some view saw
    depth: torch.Tensor  # [N, H, W] depth images in [0, 1] (what a ControlNet sees)
    latent_texture: int
    model_calls: int
    disagreement: float  # latent RMS of the views about their mean on texels two or more views share
    seconds: dict[str, float] = field(default_factory=dict)  # wall time of each phase


def view_uvs(mesh: UVMesh, cameras: Sequence[Camera], size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """UVs [N, size, size, 2] and coverage [N, size, size] of every view."""
    rasters = [view_raster(mesh, camera, size) for camera in cameras]
    return torch.stack([pixel_uv(mesh, raster) for raster in rasters]), torch.stack([raster.covered for raster in rasters])


def auto_latent_texture(uv: torch.Tensor, covered: torch.Tensor) -> int:
    """The largest latent texture side whose texels are about as fine as the views' pixels (TEXELS_PER_PIXEL)."""
    best = LATENT_TEXTURE_SIZES[0]
    for size in LATENT_TEXTURE_SIZES:
        texels = texel_index(uv, covered, size)
        ratios = [len(torch.unique(view[view >= 0])) / max(int((view >= 0).sum()), 1) for view in texels]
        if sum(ratios) / len(ratios) > TEXELS_PER_PIXEL:
            break
        best = size
    return best


def texture_layout(mesh: UVMesh, cameras: Sequence[Camera], view_size: int, latent_texture: int | None) -> TexelLayout:
    """The views' texel layout at `view_size` latent pixels; the latent texture side chosen when None."""
    uv, covered = view_uvs(mesh, cameras, view_size)
    if not bool(covered.flatten(1).any(dim=1).all()):
        raise ValueError("a camera sees none of the mesh; check --elevation/--azimuths")
    size = latent_texture or auto_latent_texture(uv, covered)
    return TexelLayout(texel_index(uv, covered, size), size * size)


def view_prompts(prompt: str, cameras: Sequence[Camera]) -> list[str]:
    """Each view's prompt: the user's with the view's direction ('front view', ...), as the official code does."""
    return [f"{prompt}, {direction_word(camera)} view" for camera in cameras]


def view_disagreement(layout: TexelLayout, windows: torch.Tensor) -> float:
    """RMS over pixels whose texel two or more views see of (view latent − the views' mean on that texel)."""
    views_per_texel = torch.zeros(layout.num_texels)
    for view in range(layout.num_windows):
        views_per_texel[torch.unique(layout.texels[view][layout.seen[view]])] += 1
    shared = layout.seen & (views_per_texel[layout.texels.clamp(min=0)] >= 2)
    if not bool(shared.any()):
        return 0.0
    spread = windows - layout.crop(layout.merge(windows, "mean"))
    return float(spread.flatten(-2).movedim(1, -2)[..., shared].pow(2).mean().sqrt())


def paint(denoiser: StableDiffusionDenoiser, mesh: UVMesh, prompt: str, cameras: Sequence[Camera],
          settings: ImageSettings | None = None, sizes: TextureSettings | None = None) -> TextureResult:
    """Texture `mesh` for `prompt`: the views sampled together on the engine, decoded and baked into an RGB texture."""
    settings, sizes = settings or ImageSettings(), sizes or TextureSettings()
    clock = {"start": time.perf_counter()}

    def lap(name: str) -> None:
        now = time.perf_counter()
        clock[name], clock["start"] = now - clock["start"], now

    layout = texture_layout(mesh, cameras, sizes.view_size, sizes.latent_texture)
    pixels = sizes.view_size * denoiser.pipeline.vae_scale_factor
    depth = torch.stack([depth_image(view_raster(mesh, camera, pixels)) for camera in cameras])
    prompts = view_prompts(prompt, cameras)
    conds: list = prompts
    if isinstance(denoiser, ControlNetDenoiser):
        conds = [ControlledPrompt(text, image.expand(3, -1, -1)) for text, image in zip(prompts, depth)]
    lap("rasterize")
    result = sample_layout(denoiser, layout, conds, settings)
    lap("sample")
    views = decode(denoiser.pipeline, result.windows[0])
    lap("decode")
    texture, seen = bake(mesh, views, cameras, sizes.texture_size, sizes.bake_power)
    texture = fill_unseen(texture, seen)
    lap("bake")
    del clock["start"]
    return TextureResult(views, texture, seen, depth, int(layout.num_texels**0.5), result.model_calls,
                         view_disagreement(layout, result.windows), clock)
