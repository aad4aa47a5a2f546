"""Views of a UV mesh: per-pixel UVs and texels, rendering a texture into a view, and baking views into a texture."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from scipy import ndimage

from .cameras import Camera
from .load import UVMesh
from .raster import Raster, rasterize

# A texel counts as seen by a view when its depth is within this distance (object radius 1) of the view's depth buffer.
DEPTH_TOLERANCE = 0.03


def view_raster(mesh: UVMesh, camera: Camera, size: int) -> Raster:
    """The mesh rasterized in a size×size view of `camera`."""
    screen, depth = camera.project(mesh.vertices, size, size)
    return rasterize(screen, depth, mesh.faces, size, size)


def pixel_uv(mesh: UVMesh, raster: Raster) -> torch.Tensor:
    """UV [H, W, 2] of the surface point each pixel sees (zero where none)."""
    return raster.interpolate(mesh.uv, mesh.faces)


def texel_index(uv: torch.Tensor, covered: torch.Tensor, size: int) -> torch.Tensor:
    """Flat index (row · size + column, row 0 at v = 1) of the size×size texel each pixel sees, −1 where none."""
    column = (uv[..., 0] * size).floor().long().clamp(0, size - 1)
    row = ((1 - uv[..., 1]) * size).floor().long().clamp(0, size - 1)
    return torch.where(covered, row * size + column, -1)


def view_texels(mesh: UVMesh, cameras: Sequence[Camera], view_size: int, texture_size: int) -> torch.Tensor:
    """Texel index [N, h, w] each pixel of each view sees (−1: background), at view_size×view_size pixels."""
    maps = []
    for camera in cameras:
        raster = view_raster(mesh, camera, view_size)
        maps.append(texel_index(pixel_uv(mesh, raster), raster.covered, texture_size))
    return torch.stack(maps)


def sample_texture(texture: torch.Tensor, uv: torch.Tensor) -> torch.Tensor:
    """The texture [C, S, S] sampled bilinearly at UVs [H, W, 2] → [C, H, W]."""
    grid = torch.stack([uv[..., 0] * 2 - 1, 1 - uv[..., 1] * 2], dim=-1).unsqueeze(0)
    return F.grid_sample(texture.unsqueeze(0).float(), grid.float(), mode="bilinear", padding_mode="border",
                         align_corners=False)[0]


def depth_image(raster: Raster) -> torch.Tensor:
    """The view's depth as ControlNet depth models expect it: [H, W] in [0, 1], near bright, far dark, background 0."""
    covered = raster.covered
    if not bool(covered.any()):
        return torch.zeros_like(raster.depth)
    inverse = torch.where(covered, 1.0 / raster.depth, 0.0)
    low, high = float(inverse[covered].min()), float(inverse[covered].max())
    # Near surfaces map to 1 and the farthest visible one to 0.2, so the object stands out from the black background.
    scaled = 0.2 + 0.8 * (inverse - low) / max(high - low, 1e-8)
    return torch.where(covered, scaled, 0.0)


def uv_raster(mesh: UVMesh, size: int) -> Raster:
    """The mesh rasterized in its own UV square at size×size texels: which face and where each texel lies on."""
    screen = torch.stack([mesh.uv[:, 0] * size, (1 - mesh.uv[:, 1]) * size], dim=-1)
    return rasterize(screen, torch.ones(len(mesh.uv)), mesh.faces, size, size)


def fill_unseen(texture: torch.Tensor, seen: torch.Tensor) -> torch.Tensor:
    """Each unseen texel [S, S] takes the colour of the nearest seen one (fills gaps and the gutters between UV islands)."""
    if not bool(seen.any()):
        return texture
    _, (rows, columns) = ndimage.distance_transform_edt(~seen.numpy(), return_indices=True)
    return texture[:, torch.from_numpy(rows), torch.from_numpy(columns)]


def bake(mesh: UVMesh, images: torch.Tensor, cameras: Sequence[Camera], size: int, power: float = 2.0,
         ) -> tuple[torch.Tensor, torch.Tensor]:
    """A size×size texture [C, S, S] from views [N, C, H, W] seen by `cameras`, and which texels some view saw [S, S].

    Each texel is projected into every view where it is visible (its depth matches the view's depth buffer) and takes
    the views' colours there, weighted by cos(angle between the surface normal and the view ray)^power, so views
    that face a surface paint it and grazing ones barely count.
    """
    count, channels, height, width = images.shape
    surface = uv_raster(mesh, size)
    inside = surface.covered.flatten()
    points = surface.interpolate(mesh.vertices, mesh.faces).reshape(-1, 3)[inside]
    normals = mesh.face_normals[surface.face.flatten()[inside]]
    total = torch.zeros(channels, len(points))
    weights = torch.zeros(len(points))
    for index, camera in enumerate(cameras):
        raster = view_raster(mesh, camera, height)
        xy, depth = camera.project(points, height, width)
        column = xy[:, 0].floor().long().clamp(0, width - 1)
        row = xy[:, 1].floor().long().clamp(0, height - 1)
        in_frame = (xy[:, 0] >= 0) & (xy[:, 0] < width) & (xy[:, 1] >= 0) & (xy[:, 1] < height)
        # Pixels next to the silhouette are left out: bilinear sampling there would mix in the background.
        interior = -F.max_pool2d(-raster.covered.float()[None, None], 3, stride=1, padding=1)[0, 0] > 0
        visible = in_frame & interior[row, column] & ((raster.depth[row, column] - depth).abs() < DEPTH_TOLERANCE)
        # Faces are seen from either side (open meshes show their inside), so the cosine's sign is dropped.
        cosine = (F.normalize(camera.position - points, dim=-1) * normals).sum(-1).abs()
        weight = torch.where(visible, cosine.clamp(min=1e-3) ** power, 0.0)
        grid = torch.stack([xy[:, 0] / width * 2 - 1, xy[:, 1] / height * 2 - 1], dim=-1).view(1, 1, -1, 2)
        colour = F.grid_sample(images[index : index + 1].float(), grid.float(), mode="bilinear",
                               padding_mode="border", align_corners=False)[0, :, 0]
        total += colour * weight
        weights += weight
    texture = torch.zeros(channels, size * size)
    texture[:, inside] = total / weights.clamp(min=1e-12)
    seen = torch.zeros(size * size, dtype=torch.bool)
    seen[inside] = weights > 0
    return texture.reshape(channels, size, size), seen.reshape(size, size)


def render_views(mesh: UVMesh, texture: torch.Tensor, cameras: Sequence[Camera], size: int,
                 background: float = 1.0, shade: bool = True) -> torch.Tensor:
    """The textured mesh seen by each camera [N, C, size, size], lit by a headlight when `shade` (for turntables)."""
    frames = []
    for camera in cameras:
        raster = view_raster(mesh, camera, size)
        colour = sample_texture(texture, pixel_uv(mesh, raster))
        if shade:
            normals = mesh.face_normals[raster.face.clamp(min=0)]
            _, rays = camera.ray(*_pixel_centres(size), size, size)
            light = (normals * rays.reshape(size, size, 3)).sum(-1).abs()
            colour = colour * (0.55 + 0.45 * light)
        frames.append(torch.where(raster.covered, colour, background))
    return torch.stack(frames)


def _pixel_centres(size: int) -> tuple[torch.Tensor, torch.Tensor]:
    y, x = torch.meshgrid(torch.arange(size) + 0.5, torch.arange(size) + 0.5, indexing="ij")
    return x.flatten(), y.flatten()
