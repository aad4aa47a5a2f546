"""Writing a textured mesh through trimesh: OBJ with its MTL and PNG texture, and a binary glTF (GLB)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import trimesh
from PIL import Image
from trimesh.visual import TextureVisuals
from trimesh.visual.material import SimpleMaterial

from .load import UVMesh


def textured_trimesh(mesh: UVMesh, texture: np.ndarray, name: str = "texture") -> trimesh.Trimesh:
    """The mesh in its file's own coordinates with an H×W×3 uint8 texture as a white, unlit-looking diffuse material."""
    # A white diffuse colour and no specular: viewers multiply the texture by Kd, and trimesh's default Kd (0.4) darkens it.
    material = SimpleMaterial(image=Image.fromarray(texture), name=name, diffuse=[255, 255, 255, 255],
                              ambient=[255, 255, 255, 255], specular=[0, 0, 0, 255])
    return trimesh.Trimesh(mesh.original_vertices(), mesh.faces.numpy(), process=False,
                           visual=TextureVisuals(uv=mesh.uv.numpy(), material=material))


def write_obj(folder: Path, stem: str, mesh: UVMesh, texture: np.ndarray) -> list[Path]:
    """`stem`.obj, `stem`.mtl and `stem`.png in `folder` (the MTL names the PNG); returns the paths written."""
    textured = textured_trimesh(mesh, texture, name=stem)
    text, files = trimesh.exchange.obj.export_obj(textured, include_texture=True, mtl_name=f"{stem}.mtl",
                                                  return_texture=True)
    written = [folder / f"{stem}.obj"]
    written[0].write_text(text)
    for name, data in files.items():
        written.append(folder / name)
        written[-1].write_bytes(data)
    return written


def write_glb(path: Path, mesh: UVMesh, texture: np.ndarray) -> None:
    """The textured mesh as one binary glTF file with the texture embedded."""
    path.write_bytes(trimesh.exchange.gltf.export_glb(trimesh.Scene(textured_trimesh(mesh, texture))))
