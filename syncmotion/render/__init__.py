"""Rendering of motions: animations (mp4, gif) and keyframe filmstrips."""

from .video import render_filmstrip, render_filmstrip_and_videos, render_video

__all__ = ["render_filmstrip", "render_filmstrip_and_videos", "render_video"]
