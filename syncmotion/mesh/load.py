"""Loading a mesh for texturing with trimesh: one triangle mesh with UVs, centred and scaled to the unit sphere.

A mesh without UVs is unwrapped by xatlas (through trimesh's `unwrap`): it cuts the surface into charts that
flatten with little stretch and packs them into the unit square, splitting vertices along the cuts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import trimesh

SUFFIXES = (".obj", ".glb", ".gltf", ".ply")
MAX_FACES = 200_000


class MeshError(ValueError):
    """A mesh that cannot be textured, with one line naming the problem and the fix."""


@dataclass(frozen=True)
class UVMesh:
    """Triangles with one UV per vertex; vertices centred and scaled so the farthest lies at distance 1."""

    vertices: torch.Tensor  # [V, 3] float32
    faces: torch.Tensor  # [F, 3] int64
    uv: torch.Tensor  # [V, 2] float32 in [0, 1], v up (OpenGL's convention)
    center: np.ndarray  # the original position of the origin
    scale: float  # original = vertices * scale + center
    uv_source: str  # "file" or "xatlas"

    @property
    def face_normals(self) -> torch.Tensor:
        """Unit normals [F, 3] of the faces, from their winding."""
        corners = self.vertices[self.faces]
        normal = torch.linalg.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
        return torch.nn.functional.normalize(normal, dim=-1)

    def original_vertices(self) -> np.ndarray:
        """Vertices [V, 3] in the file's own coordinates."""
        return self.vertices.double().numpy() * self.scale + self.center


def _read(path: Path) -> trimesh.Trimesh:
    if not path.is_file():
        raise MeshError(f"mesh file not found: {path}; give an existing {', '.join(SUFFIXES)} file")
    if path.suffix.lower() not in SUFFIXES:
        raise MeshError(f"{path.name}: unsupported mesh format {path.suffix or '(none)'}; give one of {', '.join(SUFFIXES)}")
    try:
        # force="mesh" joins the geometry of a scene (GLB nodes) into one mesh with its transforms applied.
        loaded = trimesh.load(path, force="mesh", process=False)
    except Exception as error:  # trimesh raises many kinds for damaged files
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise MeshError(f"cannot read mesh {path}: {first}; check that it is a valid {path.suffix.lstrip('.').upper()} file") from None
    if not isinstance(loaded, trimesh.Trimesh):
        raise MeshError(f"{path} holds no triangle mesh (found {type(loaded).__name__}); give a mesh with faces")
    return loaded


def _non_manifold_edges(vertices: np.ndarray, faces: np.ndarray) -> int:
    """Edges shared by more than two faces, vertices welded by position first (UV seams split vertices, not edges)."""
    _, welded = np.unique(np.round(vertices, 6), axis=0, return_inverse=True)
    corners = welded.reshape(-1)[faces]
    edges = np.sort(np.concatenate([corners[:, [0, 1]], corners[:, [1, 2]], corners[:, [2, 0]]]), axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    return int((counts > 2).sum())


def check_mesh(mesh: trimesh.Trimesh, name: str, max_faces: int = MAX_FACES) -> None:
    """Raise a MeshError one-liner when the mesh cannot be textured: no faces, too many, non-finite, degenerate or non-manifold."""
    faces, vertices = np.asarray(mesh.faces), np.asarray(mesh.vertices)
    if len(faces) == 0:
        raise MeshError(f"{name} has no faces (a point cloud or an empty file?); give a triangle mesh")
    if len(faces) > max_faces:
        raise MeshError(f"{name} has {len(faces):,} faces, more than --max-faces {max_faces:,}; decimate it "
                        "(e.g. Blender's Decimate modifier) or raise --max-faces")
    if not np.isfinite(vertices).all():
        raise MeshError(f"{name} has vertices that are not finite numbers (NaN or inf); repair or re-export it")
    if faces.min() < 0 or faces.max() >= len(vertices):
        raise MeshError(f"{name} has faces that point past its {len(vertices)} vertices; repair or re-export it")
    if not (np.asarray(mesh.area_faces) > 0).any():
        raise MeshError(f"{name}: every face has zero area; give a mesh with a surface")
    bad = _non_manifold_edges(vertices, faces)
    if bad:
        edges = "1 edge is" if bad == 1 else f"{bad} edges are"
        raise MeshError(f"{name} is non-manifold: {edges} shared by more than two faces; repair it "
                        "(e.g. Blender's Select > Non Manifold, or split those parts) and try again")


def _uv_of(mesh: trimesh.Trimesh) -> np.ndarray | None:
    uv = getattr(mesh.visual, "uv", None)
    if uv is None or len(uv) != len(mesh.vertices) or not np.isfinite(uv).all():
        return None
    return np.asarray(uv, dtype=np.float64)


def load_mesh(path: str | Path, max_faces: int = MAX_FACES) -> UVMesh:
    """The mesh at `path` ready for texturing (UVs made by xatlas when it has none), or a MeshError one-liner."""
    path = Path(path)
    mesh = _read(path)
    return prepare_mesh(mesh, path.name, max_faces)


def prepare_mesh(mesh: trimesh.Trimesh, name: str, max_faces: int = MAX_FACES) -> UVMesh:
    """A checked trimesh as a UVMesh: UVs kept (wrapped into [0, 1) when they tile) or made, unused vertices dropped."""
    check_mesh(mesh, name, max_faces)
    uv = _uv_of(mesh)
    source = "file"
    if uv is None:
        try:
            mesh = mesh.unwrap()
        except Exception as error:  # xatlas reports failures as plain exceptions
            raise MeshError(f"{name} has no UVs and xatlas could not unwrap it ({error}); add UVs in a modeller") from None
        uv, source = _uv_of(mesh), "xatlas"
        if uv is None:
            raise MeshError(f"{name} has no UVs and xatlas made none; add UVs in a modeller")
    # Tiling UVs repeat the texture (OpenGL's REPEAT): wrap them into one tile.
    if uv.min() < 0 or uv.max() > 1:
        uv = np.mod(uv, 1.0)
    faces = np.asarray(mesh.faces, dtype=np.int64)
    used = np.unique(faces)
    remap = np.full(len(mesh.vertices), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    vertices = np.asarray(mesh.vertices, dtype=np.float64)[used]
    center = (vertices.min(axis=0) + vertices.max(axis=0)) / 2
    scale = float(np.linalg.norm(vertices - center, axis=1).max())
    if scale <= 0:
        raise MeshError(f"{name}: all vertices are at one point; give a mesh with a surface")
    return UVMesh(
        vertices=torch.from_numpy((vertices - center) / scale).float(), faces=torch.from_numpy(remap[faces]),
        uv=torch.from_numpy(uv[used]).float(), center=center, scale=scale, uv_source=source,
    )
