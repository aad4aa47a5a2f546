"""Pictures of a textured mesh: a turntable (the mesh turning once before a fixed camera) and a contact sheet of views."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from syncmotion.mesh.cameras import Camera
from syncmotion.mesh.load import UVMesh
from syncmotion.mesh.texture import render_views


def to_uint8_images(images: torch.Tensor) -> np.ndarray:
    """Images [N, 3, H, W] in [0, 1] as [N, H, W, 3] uint8."""
    return (images.clamp(0, 1).permute(0, 2, 3, 1) * 255).round().to(torch.uint8).numpy()


def turntable_frames(mesh: UVMesh, texture: torch.Tensor, frames: int = 36, size: int = 256,
                     elevation: float = 15.0) -> np.ndarray:
    """`frames` shaded renders [F, size, size, 3] uint8 from azimuths evenly round the mesh."""
    cameras = [Camera(elevation, 360.0 * index / frames) for index in range(frames)]
    return to_uint8_images(render_views(mesh, texture, cameras, size))


def contact_sheet(rows: Sequence[torch.Tensor], size: int = 192, gap: int = 4) -> np.ndarray:
    """One image of rows of views (each [N, 3, H, W] in [0, 1], resized to size×size), white gaps between them."""
    resized = [torch.nn.functional.interpolate(row.float(), size=(size, size), mode="bilinear", antialias=True,
                                               align_corners=False) for row in rows]
    count = max(len(row) for row in resized)
    sheet = torch.ones(3, len(resized) * (size + gap) - gap, count * (size + gap) - gap)
    for r, row in enumerate(resized):
        for c, image in enumerate(row):
            sheet[:, r * (size + gap): r * (size + gap) + size, c * (size + gap): c * (size + gap) + size] = image
    return to_uint8_images(sheet.unsqueeze(0))[0]
