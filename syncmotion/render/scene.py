"""A skeleton on a ground grid, seen by a camera that follows the body, drawn on a matplotlib axes.

The 3D scene is projected by our own pinhole camera onto a plain 2D axes: updating a few line collections
per frame is several times faster than matplotlib's mplot3d, which matters for minutes-long motions.
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection

from syncmotion.motion.skeleton import KINEMATIC_CHAIN
from syncmotion.motion.types import Motion

# Right leg, left leg, spine and head, right arm, left arm (KINEMATIC_CHAIN's order).
LIMB_COLOURS = ("#d62728", "#1f77b4", "#333333", "#ff7f0e", "#17becf")
SEGMENT_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
HEAD = 15
BONES = [(chain[i], chain[i + 1], limb) for limb, chain in enumerate(KINEMATIC_CHAIN) for i in range(len(chain) - 1)]
_BONE_ENDS = np.array([[a, b] for a, b, _ in BONES])
_GROUND = np.array([1.0, 0.0, 1.0])  # drops a point onto the ground (y = 0)
FIGURE_SPACE = "\u2007"  # a blank exactly as wide as a digit


def segment_colour(index: int) -> str:
    """The caption colour of segment `index` (neighbouring segments differ; -1, no segment, is dark grey)."""
    return SEGMENT_COLOURS[index % len(SEGMENT_COLOURS)] if index >= 0 else "#333333"


def smoothed_track(positions: np.ndarray, fps: float, seconds: float = 1.0) -> np.ndarray:
    """The root's ground position averaged over about `seconds`, so the camera glides instead of shaking."""
    root = positions[:, 0, [0, 2]].astype(np.float64)
    width = max(1, int(seconds * fps))
    padded = np.pad(root, ((width, width), (0, 0)), mode="edge")
    kernel = np.ones(2 * width + 1) / (2 * width + 1)
    return np.stack([np.convolve(padded[:, axis], kernel, mode="valid") for axis in range(2)], axis=1)


class Camera:
    """A pinhole camera looking at a point from a fixed azimuth and elevation."""

    def __init__(self, azimuth_deg: float = 35.0, elevation_deg: float = 18.0, distance: float = 4.0, focal: float = 2.0) -> None:
        azimuth, elevation = np.radians(azimuth_deg), np.radians(elevation_deg)
        # From the target towards the camera; the camera sits in front of a body that faces +z.
        self.back = np.array([np.sin(azimuth) * np.cos(elevation), np.sin(elevation), np.cos(azimuth) * np.cos(elevation)])
        self.right = np.cross([0.0, 1.0, 0.0], self.back)
        self.right /= np.linalg.norm(self.right)
        self.up = np.cross(self.back, self.right)
        self.distance, self.focal = distance, focal

    def project(self, points: np.ndarray, target: np.ndarray) -> np.ndarray:
        """Image coordinates [..., 2] of world points [..., 3]; points behind the camera become NaN."""
        relative = points - (target + self.distance * self.back)
        depth = -(relative @ self.back)
        image = np.stack([relative @ self.right, relative @ self.up], axis=-1) * (self.focal / np.maximum(depth, 1e-6))[..., None]
        image[depth < 0.2] = np.nan
        return image


class Scene:
    """Everything drawn for one motion on one axes; `show(frame)` moves it to a frame.

    `place(frame)` moves the artists that follow the body; `show(frame)` also sets the caption and the clock.
    """

    def __init__(self, axes: Axes, motion: Motion, camera: Camera | None = None, caption: bool = True, grid_radius: float = 2.5) -> None:
        self.axes, self.motion = axes, motion
        self.camera = camera or Camera()
        self.positions = np.asarray(motion.positions, dtype=np.float64)
        self.track = smoothed_track(self.positions, motion.fps)
        self.grid_radius = grid_radius
        self.trail_frames = int(20 * motion.fps)
        axes.set_xlim(-0.8, 0.8)
        axes.set_ylim(-0.62, 0.78)
        axes.set_aspect("equal")
        axes.axis("off")
        self.grid = LineCollection([], colors="#c8c8c8", linewidths=0.8, zorder=1)
        self.trail = axes.plot([], [], color="#9a9a9a", linewidth=1.5, zorder=2)[0]
        self.shadow = LineCollection([], colors="#b0b0b0", linewidths=3.0, alpha=0.5, zorder=2)
        self.bones = LineCollection([], colors=[LIMB_COLOURS[limb] for _, _, limb in BONES], linewidths=3.5,
                                    capstyle="round", zorder=3)
        for collection in (self.grid, self.shadow, self.bones):
            axes.add_collection(collection)
        self.head = axes.plot([], [], "o", color=LIMB_COLOURS[2], markersize=9, zorder=4)[0]
        self.caption = axes.text(0.5, 0.97, "", transform=axes.transAxes, ha="center", va="top", fontsize=11,
                                 fontweight="bold", wrap=True) if caption else None
        self.clock = axes.text(0.02, 0.02, "", transform=axes.transAxes, fontsize=8, color="#555555") if caption else None
        # What `place` moves, in matplotlib's drawing order (zorder, then order of adding): the texts come between.
        self.under_texts = (self.grid, self.trail, self.shadow, self.bones)
        self.over_texts = (self.head,)
        # The ground grid's lines around the origin [line, end, xyz]: at each tick, one along z (x = tick), one along x.
        self._grid_step = step = 0.5
        ticks = np.arange(-grid_radius, grid_radius + 1e-9, step)[:, None]
        lines = np.zeros((len(ticks), 2, 2, 3))
        lines[:, 0, :, 0], lines[:, 0, :, 2] = ticks, [-grid_radius, grid_radius]
        lines[:, 1, :, 0], lines[:, 1, :, 2] = [-grid_radius, grid_radius], ticks
        self._grid_lines_at_origin = lines.reshape(-1, 2, 3)

    def segment_at(self, frame: int) -> tuple[int, str]:
        """Index (the latest to start) and text of the segments playing at `frame`, overlapping tracks of a timeline
        one per line (-1 and '' when none)."""
        playing = [index for index, segment in enumerate(self.motion.segments) if segment.start <= frame < segment.end]
        if not playing:
            return -1, ""
        return playing[-1], "\n".join(self.motion.segments[index].text for index in playing)

    def clock_text(self, frame: int) -> str:
        """The time and frame counter shown in the corner at `frame`."""
        # Right-aligned in fields as wide as the motion's last values, padded with figure spaces (as wide as a digit):
        # the clock's characters stay in place as it runs, and the video's stamps need one pattern of digit slots.
        fps, frames = self.motion.fps, self.motion.num_frames
        seconds = f"{frame / fps:.2f}".rjust(max(5, len(f"{(frames - 1) / fps:.2f}")), FIGURE_SPACE)
        return f"{seconds} s   frame {str(frame + 1).rjust(len(str(frames)), FIGURE_SPACE)}/{frames}"

    def _grid_lines(self, centre: np.ndarray) -> np.ndarray:
        base = np.round(centre / self._grid_step) * self._grid_step
        return self._grid_lines_at_origin + np.array([base[0], 0.0, base[1]])

    def place(self, frame: int) -> None:
        """Move the grid, trail, shadow, bones and head to `frame` (the texts are left as they are)."""
        pose = self.positions[frame]
        target = np.array([self.track[frame, 0], 0.9, self.track[frame, 1]])
        project = self.camera.project
        self.grid.set_segments(project(self._grid_lines(self.track[frame]), target))
        path = self.positions[max(0, frame - self.trail_frames):frame + 1, 0] * _GROUND
        trail = project(path, target)
        self.trail.set_data(trail[:, 0], trail[:, 1])
        ends = pose[_BONE_ENDS]
        self.bones.set_segments(project(ends, target))
        self.shadow.set_segments(project(ends * _GROUND, target))
        head = project(pose[HEAD], target)
        self.head.set_data([head[0]], [head[1]])

    def show(self, frame: int) -> None:
        """Pose, ground, trail and caption at `frame`."""
        self.place(frame)
        if self.caption is not None:
            index, text = self.segment_at(frame)
            self.caption.set_text(text)
            self.caption.set_color(segment_colour(index))
            self.clock.set_text(self.clock_text(frame))
