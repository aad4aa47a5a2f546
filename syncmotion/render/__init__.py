"""Rendering of motions: animations (mp4, gif) and keyframe filmstrips."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["render_filmstrip", "render_filmstrip_and_videos", "render_video"]


def __getattr__(name: str) -> Any:
    # Imported on first use: `syncmotion.render.ahead` must load without matplotlib, which takes 0.5 s to import.
    if name in __all__:
        return getattr(importlib.import_module(".video", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
