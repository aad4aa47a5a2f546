"""A vectorized triangle rasterizer in torch on the CPU: which face covers each pixel, where on it, and how deep.

Chosen over an offscreen OpenGL (EGL/OSMesa from Debian) because it needs no system library or display, runs the
same in CI and on any machine, and works in any 2D space: camera views, and the UV square itself for baking.
Every (face, pixel-in-its-bounding-box) pair is tested at once in chunks; the nearest face wins each pixel.
Barycentrics are perspective-correct (interpolated in 1/depth).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

# (face, pixel) candidate pairs tested at once; bounds memory to some hundred MB.
CHUNK_PAIRS = 1 << 22


@dataclass
class Raster:
    """Per pixel: the covering face (−1 for none), its perspective-correct barycentrics and its depth (inf for none)."""

    face: torch.Tensor  # [H, W] int64
    bary: torch.Tensor  # [H, W, 3] float32
    depth: torch.Tensor  # [H, W] float32

    @property
    def covered(self) -> torch.Tensor:
        """Pixels some face covers [H, W] bool."""
        return self.face >= 0

    def interpolate(self, attributes: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
        """A per-vertex attribute [V, C] at every covered pixel [H, W, C] (zero elsewhere)."""
        face = self.face.clamp(min=0)
        corners = attributes[faces[face]]  # [H, W, 3, C]
        values = (self.bary.unsqueeze(-1) * corners).sum(dim=-2)
        return values * self.covered.unsqueeze(-1)


def _bounds(corners: torch.Tensor, height: int, width: int) -> tuple[torch.Tensor, ...]:
    """First and last pixel column and row whose centre may lie inside each triangle."""
    low = torch.ceil(corners.amin(dim=1) - 0.5).long()
    high = torch.floor(corners.amax(dim=1) - 0.5).long()
    x0, y0 = low[:, 0].clamp(0, width - 1), low[:, 1].clamp(0, height - 1)
    x1, y1 = high[:, 0].clamp(-1, width - 1), high[:, 1].clamp(-1, height - 1)
    return x0, y0, x1, y1


def rasterize(screen: torch.Tensor, depth: torch.Tensor, faces: torch.Tensor, height: int, width: int,
              near: float = 1e-4) -> Raster:
    """Rasterize vertices at pixel coordinates `screen` [V, 2] (x right, y down) with view depths `depth` [V] (>0).

    Faces with a corner behind `near` are skipped (the object lies in front of every camera we place).
    """
    corners = screen[faces].double()  # [F, 3, 2]
    corner_depth = depth[faces].double()
    edge1, edge2 = corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]
    area = edge1[:, 0] * edge2[:, 1] - edge1[:, 1] * edge2[:, 0]
    x0, y0, x1, y1 = _bounds(corners, height, width)
    widths, heights = (x1 - x0 + 1).clamp(min=0), (y1 - y0 + 1).clamp(min=0)
    usable = (area.abs() > 1e-12) & (corner_depth.amin(dim=1) > near)
    counts = torch.where(usable, widths * heights, 0)
    best_depth = torch.full((height * width,), float("inf"), dtype=torch.float64)
    best_face = torch.full((height * width,), -1, dtype=torch.long)
    best_bary = torch.zeros(height * width, 3, dtype=torch.float64)
    candidates = counts.nonzero()[:, 0]
    cumulative = counts[candidates].cumsum(0)
    begin = 0
    while begin < len(candidates):
        # Faces whose pairs fit in one chunk (at least one face, however large).
        offset = int(cumulative[begin - 1]) if begin else 0
        end = max(begin + 1, int(torch.searchsorted(cumulative, offset + CHUNK_PAIRS, right=True)))
        chunk = candidates[begin:end]
        begin = end
        pairs = counts[chunk]
        face = chunk.repeat_interleave(pairs)
        first = torch.cumsum(pairs, 0) - pairs
        local = torch.arange(int(pairs.sum())) - first.repeat_interleave(pairs)
        px = x0[face] + local % widths[face]
        py = y0[face] + torch.div(local, widths[face], rounding_mode="floor")
        point = torch.stack([px, py], dim=-1).double() + 0.5
        relative = point - corners[face, 0]
        # Screen-space barycentrics of corners 1 and 2 by Cramer's rule; corner 0 takes the rest.
        l1 = (relative[:, 0] * edge2[face, 1] - relative[:, 1] * edge2[face, 0]) / area[face]
        l2 = (edge1[face, 0] * relative[:, 1] - edge1[face, 1] * relative[:, 0]) / area[face]
        screen_bary = torch.stack([1 - l1 - l2, l1, l2], dim=-1)
        inside = (screen_bary >= -1e-9).all(dim=-1)
        face, screen_bary, pixel = face[inside], screen_bary[inside], (py * width + px)[inside]
        weighted = screen_bary / corner_depth[face]
        total = weighted.sum(dim=-1)
        pixel_depth = 1.0 / total
        # Nearest face per pixel in this chunk (the lowest face index on a tie), then merged with earlier chunks.
        nearest = torch.full((height * width,), float("inf"), dtype=torch.float64).scatter_reduce(
            0, pixel, pixel_depth, "amin")
        winner = pixel_depth <= nearest[pixel]
        chosen = torch.full((height * width,), torch.iinfo(torch.long).max, dtype=torch.long).scatter_reduce(
            0, pixel[winner], face[winner], "amin")
        keep = winner & (face == chosen[pixel]) & (pixel_depth < best_depth[pixel])
        best_depth[pixel[keep]] = pixel_depth[keep]
        best_face[pixel[keep]] = face[keep]
        best_bary[pixel[keep]] = weighted[keep] / total[keep].unsqueeze(-1)
    return Raster(best_face.reshape(height, width), best_bary.float().reshape(height, width, 3),
                  best_depth.float().reshape(height, width))
