"""Procedural meshes with UVs (a latitude-longitude sphere, a cube on a 3x2 atlas) for tests, demos and benchmarks."""

from __future__ import annotations

import numpy as np
import trimesh
from trimesh.visual import TextureVisuals


def uv_sphere(rings: int = 16, segments: int = 32, radius: float = 1.0) -> trimesh.Trimesh:
    """A sphere whose UVs are longitude (u) and latitude (v); the seam column of vertices is doubled so u runs 0 to 1."""
    lat = np.linspace(0, np.pi, rings + 1)
    lon = np.linspace(0, 2 * np.pi, segments + 1)
    lat_grid, lon_grid = np.meshgrid(lat, lon, indexing="ij")
    vertices = radius * np.stack(
        [np.sin(lat_grid) * np.sin(lon_grid), np.cos(lat_grid), np.sin(lat_grid) * np.cos(lon_grid)], axis=-1
    ).reshape(-1, 3)
    uv = np.stack([lon_grid / (2 * np.pi), 1 - lat_grid / np.pi], axis=-1).reshape(-1, 2)
    index = np.arange((rings + 1) * (segments + 1)).reshape(rings + 1, segments + 1)
    a, b, c, d = index[:-1, :-1], index[1:, :-1], index[1:, 1:], index[:-1, 1:]
    quads = np.stack([a, b, c, d], axis=-1).reshape(-1, 4)
    faces = np.concatenate([quads[:, [0, 1, 2]], quads[:, [0, 2, 3]]])
    # The pole rows hold triangles of zero area (two corners at the pole); they are dropped.
    positions = vertices[faces]
    area = np.linalg.norm(np.cross(positions[:, 1] - positions[:, 0], positions[:, 2] - positions[:, 0]), axis=1)
    faces = faces[area > 1e-9]
    return trimesh.Trimesh(vertices, faces, visual=TextureVisuals(uv=uv), process=False)


def atlas_cube(size: float = 1.0) -> trimesh.Trimesh:
    """A cube whose six faces each own one cell of a 3x2 UV atlas (24 vertices, 12 triangles, outward normals)."""
    half = size / 2
    # (normal axis, sign) of each face; its in-plane axes follow the axis cyclically (swapped on the negative side) so the
    # corners wind counter-clockwise seen from outside.
    sides = [(0, 1), (0, -1), (1, 1), (1, -1), (2, 1), (2, -1)]
    vertices, uv, faces = [], [], []
    for cell, (axis, sign) in enumerate(sides):
        first, second = (axis + 1) % 3, (axis + 2) % 3
        if sign < 0:
            first, second = second, first
        base = len(vertices)
        for s, t in ((0, 0), (1, 0), (1, 1), (0, 1)):
            corner = np.zeros(3)
            corner[axis] = sign * half
            corner[first] = (s - 0.5) * size
            corner[second] = (t - 0.5) * size
            vertices.append(corner)
            column, row = cell % 3, cell // 3
            uv.append(((column + 0.05 + 0.9 * s) / 3, (row + 0.05 + 0.9 * t) / 2))
        faces += [(base, base + 1, base + 2), (base, base + 2, base + 3)]
    return trimesh.Trimesh(np.array(vertices), np.array(faces), visual=TextureVisuals(uv=np.array(uv)), process=False)
