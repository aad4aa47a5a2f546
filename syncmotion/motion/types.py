"""A generated motion as the rest of the package passes it around: joint positions plus what they mean."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .skeleton import FPS


@dataclass(frozen=True)
class Segment:
    """One script segment: its text and its frame range [start, end)."""

    text: str
    start: int
    end: int


@dataclass
class Motion:
    """Joint positions [T, 22, 3] in metres (y up) at `fps`, with the segments and seams that made them."""

    positions: np.ndarray
    fps: float = FPS
    segments: list[Segment] = field(default_factory=list)
    seams: list[int] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        """Number of frames."""
        return int(self.positions.shape[0])

    @property
    def seconds(self) -> float:
        """Duration in seconds."""
        return self.num_frames / self.fps
