"""Perspective cameras on a sphere around the unit-sized object, looking at its centre (y up, azimuth 0 in front)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Camera:
    """A pinhole camera at (elevation, azimuth) degrees and `distance` from the origin, looking at it."""

    elevation: float
    azimuth: float
    distance: float = 2.2
    fov: float = 60.0  # vertical field of view in degrees; the unit sphere fits at distance 2.2 with some margin

    @property
    def position(self) -> torch.Tensor:
        """Where the camera is: azimuth turns about y from +z (the front) toward +x."""
        elevation, azimuth = math.radians(self.elevation), math.radians(self.azimuth)
        return self.distance * torch.tensor(
            [math.cos(elevation) * math.sin(azimuth), math.sin(elevation), math.cos(elevation) * math.cos(azimuth)]
        )

    def rotation(self) -> torch.Tensor:
        """World-to-camera rotation [3, 3]: rows are the camera's right, up and backward axes (it looks down −z)."""
        backward = torch.nn.functional.normalize(self.position, dim=0)
        world_up = torch.tensor([0.0, 1.0, 0.0])
        if abs(float(backward @ world_up)) > 0.999:
            world_up = torch.tensor([0.0, 0.0, -1.0 if float(backward[1]) > 0 else 1.0])
        right = torch.nn.functional.normalize(torch.linalg.cross(world_up, backward), dim=0)
        up = torch.linalg.cross(backward, right)
        return torch.stack([right, up, backward])

    def project(self, points: torch.Tensor, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Pixel coordinates [P, 2] (x right, y down, pixel centres at .5) and depths [P] along the view axis."""
        local = (points - self.position) @ self.rotation().T
        depth = -local[:, 2]
        focal = 0.5 * height / math.tan(math.radians(self.fov) / 2)
        x = width / 2 + focal * local[:, 0] / depth
        y = height / 2 - focal * local[:, 1] / depth
        return torch.stack([x, y], dim=-1), depth

    def ray(self, x: torch.Tensor, y: torch.Tensor, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Origin [3] and unit directions [P, 3] of the rays through pixel coordinates (x, y)."""
        focal = 0.5 * height / math.tan(math.radians(self.fov) / 2)
        local = torch.stack([(x - width / 2) / focal, -(y - height / 2) / focal, -torch.ones_like(x)], dim=-1)
        return self.position, torch.nn.functional.normalize(local @ self.rotation(), dim=-1)


def direction_word(camera: Camera) -> str:
    """'front', 'side', 'back' or 'overhead': the view word appended to each view's prompt (as the official code does)."""
    if camera.elevation >= 60:
        return "overhead"
    azimuth = camera.azimuth % 360
    if azimuth <= 45 or azimuth >= 315:
        return "front"
    if 135 <= azimuth <= 225:
        return "back"
    return "side"


def ring_cameras(views: int, elevation: float = 0.0, top_views: int = 2, top_elevation: float = 30.0,
                 azimuths: Sequence[float] | None = None, distance: float = 2.2) -> list[Camera]:
    """`views` cameras evenly round the object at `elevation` from the front, then `top_views` higher up (front first).

    The defaults with views=8 are the official SyncSDE texturing cameras: 8 azimuths 45° apart at 0° and two at 30°
    (front and back), 10 views. View 0 (the front) is the one the others are synchronized to.
    """
    ring = list(azimuths) if azimuths is not None else [360.0 * index / views for index in range(views)]
    tops = [360.0 * index / top_views for index in range(top_views)]
    return [Camera(elevation, azimuth % 360, distance) for azimuth in ring] + \
        [Camera(top_elevation, azimuth, distance) for azimuth in tops]
