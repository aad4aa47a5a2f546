"""Window layouts: where each window sits on the canvas, what it is pulled toward (X̃, M), and stitching."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

STITCH_MODES = ("paste", "crossfade", "mean")


class Layout(ABC):
    """How N windows relate to one another and to the output canvas."""

    num_windows: int
    window_dims: tuple[int, ...]
    canvas_dims: tuple[int, ...]

    @abstractmethod
    def crop(self, canvas: torch.Tensor) -> torch.Tensor:
        """Windows [B, N, *lat, *window_dims] cut from a canvas [B, *lat, *canvas_dims]."""

    @abstractmethod
    def merge(self, windows: torch.Tensor, mode: str = "mean") -> torch.Tensor:
        """The canvas [B, *lat, *canvas_dims] made from windows [B, N, *lat, *window_dims]."""

    @abstractmethod
    def targets(self, windows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """SyncSDE's X̃ like the windows and precision mask M broadcastable to them, from pre-step windows."""

    def initial(self, canvas: torch.Tensor) -> torch.Tensor:
        """The windows a run starts from, given canvas noise: its crops, unless a layout's windows start independently."""
        return self.crop(canvas)

    def pull(self, windows: torch.Tensor) -> torch.Tensor:
        """M ⊙ (X̃ − y): how far each window is from what it is pulled toward, zero where M = 0."""
        x_tilde, mask = self.targets(windows)
        return mask * (x_tilde - windows)

    def merge_interior(self, windows: torch.Tensor, power: float) -> torch.Tensor:
        """The canvas where each window counts by its cross-fade share to `power` (0: the mean, 1: the cross-fade).

        Layouts whose windows are whole images have no edges to weigh against, so the base one takes the mean.
        """
        return self.merge(windows, "mean")


@dataclass
class CropLayout(Layout):
    """Windows that are crops of one canvas, given by flat canvas indices per window position.

    Window i is pulled toward the windows before it: on each position, X̃ is the latest earlier window
    covering it (the previous window on a chain, as in the official code), and M = 1 where one does.
    With `taper`, M instead fades from 1 to 0 across the overlap (a smootherstep of the earlier window's
    cross-fade share): a binary M pulls a window hard up to the last shared position and not at all past
    it, which leaves a kink there in the finished sample.
    """

    canvas_dims: tuple[int, ...]
    window_dims: tuple[int, ...]
    indices: torch.Tensor  # [N, prod(window_dims)] flat canvas index of each window position
    ramps: torch.Tensor  # [N, prod(window_dims)] cross-fade weight of each window position
    starts: list = field(default_factory=list)  # where each window begins on the canvas
    taper: bool = False
    _source_flat: torch.Tensor = field(init=False, repr=False)
    _mask: torch.Tensor = field(init=False, repr=False)
    _pulled: torch.Tensor = field(init=False, repr=False)
    _pulled_from: torch.Tensor = field(init=False, repr=False)
    _pull_weight: torch.Tensor = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.num_windows = int(self.indices.shape[0])
        size = self.indices.shape[1]
        canvas_size = int(torch.tensor(self.canvas_dims).prod())
        owner_window = torch.full((canvas_size,), -1, dtype=torch.long)
        owner_position = torch.zeros(canvas_size, dtype=torch.long)
        source_window = torch.zeros_like(self.indices)
        source_position = torch.zeros_like(self.indices)
        mask = torch.zeros(self.indices.shape, dtype=torch.float32)
        for window in range(self.num_windows):
            owners = owner_window[self.indices[window]]
            covered = owners >= 0
            source_window[window] = torch.where(covered, owners, window)
            source_position[window] = torch.where(
                covered, owner_position[self.indices[window]], torch.arange(size)
            )
            mask[window] = covered.float()
            owner_window[self.indices[window]] = window
            owner_position[self.indices[window]] = torch.arange(size)
        if self.taper:
            mask = mask * _smootherstep(1 - self.ramps)
        # Flat index into windows flattened to [N * size], so X̃ is a single gather per step.
        self._source_flat = source_window * size + source_position
        self._mask = mask
        # Masks are sparse (only overlaps), so the pull is gathered on the masked positions alone.
        self._pulled = mask.flatten().nonzero()[:, 0]
        self._pulled_from = self._source_flat.flatten()[self._pulled]
        self._pull_weight = mask.flatten()[self._pulled]
        coverage = torch.zeros(canvas_size).index_add_(0, self.indices.flatten(), torch.ones(self.indices.numel()))
        if bool((coverage == 0).any()):
            raise ValueError("the windows leave part of the canvas uncovered; use a smaller stride or larger window")

    @property
    def mask(self) -> torch.Tensor:
        """Precision mask M [N, *window_dims]: > 0 where a window is pulled toward an earlier one (1 unless tapered)."""
        return self._mask.reshape(self.num_windows, *self.window_dims)

    def _flatten_windows(self, windows: torch.Tensor) -> torch.Tensor:
        return windows.flatten(start_dim=windows.dim() - len(self.window_dims))

    def crop(self, canvas: torch.Tensor) -> torch.Tensor:
        """Windows [B, N, *lat, *window_dims] cut from a canvas [B, *lat, *canvas_dims]."""
        flat = canvas.flatten(start_dim=canvas.dim() - len(self.canvas_dims))
        gathered = flat[..., self.indices]  # [B, *lat, N, size]
        gathered = gathered.movedim(-2, 1)
        return gathered.reshape(*gathered.shape[:-1], *self.window_dims)

    def merge(self, windows: torch.Tensor, mode: str = "mean") -> torch.Tensor:
        """The canvas [B, *lat, *canvas_dims] made from windows [B, N, *lat, *window_dims]."""
        if mode not in STITCH_MODES:
            raise ValueError(f"unknown stitch mode {mode!r}; choose one of {', '.join(STITCH_MODES)}")
        flat = self._flatten_windows(windows).movedim(1, -2)  # [B, *lat, N, size]
        canvas_size = int(torch.tensor(self.canvas_dims).prod())
        out_shape = (*flat.shape[:-2], canvas_size)
        if mode == "paste":
            canvas = flat.new_zeros(out_shape)
            for window in range(self.num_windows):
                canvas[..., self.indices[window]] = flat[..., window, :]
        else:
            canvas = self._weighted_sum(flat, torch.ones_like(self.ramps) if mode == "mean" else self.ramps)
        return canvas.reshape(*out_shape[:-1], *self.canvas_dims)

    def _weighted_sum(self, flat: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """Σ w·window / Σ w on the flat canvas, from windows [B, *lat, N, size] and weights [N, size]."""
        canvas_size = int(torch.tensor(self.canvas_dims).prod())
        weights = weights.to(flat)
        total = flat.new_zeros((*flat.shape[:-2], canvas_size)).index_add_(-1, self.indices.flatten(), (flat * weights).flatten(-2))
        norm = flat.new_zeros(canvas_size).index_add_(0, self.indices.flatten(), weights.flatten())
        return total / norm

    def merge_interior(self, windows: torch.Tensor, power: float) -> torch.Tensor:
        """The canvas where each window counts by its cross-fade share to `power` (0: the mean, 1: the cross-fade)."""
        # Shares are divided by the largest share on their position first, so a high power cannot underflow every
        # weight of a position to zero (the largest becomes 1).
        largest = torch.zeros(int(torch.tensor(self.canvas_dims).prod())).scatter_reduce_(
            0, self.indices.flatten(), self.ramps.flatten(), "amax", include_self=False)
        weights = (self.ramps / largest[self.indices]) ** power
        canvas = self._weighted_sum(self._flatten_windows(windows).movedim(1, -2), weights)
        return canvas.reshape(*canvas.shape[:-1], *self.canvas_dims)

    def targets(self, windows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """SyncSDE's X̃ like the windows and precision mask M [N, 1.., *window_dims] from pre-step windows."""
        flat = self._flatten_windows(windows).movedim(1, -2).flatten(-2)  # [B, *lat, N * size]
        x_tilde = flat[..., self._source_flat].movedim(-2, 1)
        latent_ones = [1] * (windows.dim() - 2 - len(self.window_dims))
        return x_tilde.reshape(windows.shape), self.mask.reshape(self.num_windows, *latent_ones, *self.window_dims).to(windows)

    def pull(self, windows: torch.Tensor) -> torch.Tensor:
        """M ⊙ (X̃ − y): how far each window is from what it is pulled toward, zero where M = 0."""
        flat = self._flatten_windows(windows).movedim(1, -2).flatten(-2)  # [B, *lat, N * size]
        pulled = torch.zeros_like(flat)
        pulled[..., self._pulled] = (flat[..., self._pulled_from] - flat[..., self._pulled]) * self._pull_weight.to(flat)
        return pulled.unflatten(-1, (self.num_windows, -1)).movedim(-2, 1).reshape(windows.shape)


def _window_starts(length: int, window: int, stride: int, wrap: bool) -> list[int]:
    if wrap:
        count = -(-length // stride)
        return [i * stride for i in range(count)]
    starts = list(range(0, length - window + 1, stride))
    if starts[-1] + window < length:
        starts.append(length - window)
    return starts


def _ramp(window: int, left_overlap: int, right_overlap: int) -> torch.Tensor:
    """Linear fade-in over the left overlap and fade-out over the right one; pairs of ramps sum to 1."""
    position = torch.arange(window, dtype=torch.float32) + 0.5
    ramp = torch.ones(window)
    if left_overlap > 0:
        ramp = torch.minimum(ramp, position / left_overlap)
    if right_overlap > 0:
        ramp = torch.minimum(ramp, (window - position) / right_overlap)
    return ramp


def _smootherstep(x: torch.Tensor) -> torch.Tensor:
    """6x⁵ − 15x⁴ + 10x³ on [0, 1]: flat at both ends up to the second derivative."""
    x = x.clamp(0, 1)
    return x * x * x * (x * (x * 6 - 15) + 10)


def _axis_ramps(starts: Sequence[int], window: int, length: int, wrap: bool) -> list[torch.Tensor]:
    ramps = []
    for i, start in enumerate(starts):
        if wrap and len(starts) > 1:
            prev_end = starts[i - 1] + window - (length if i == 0 else 0)
            next_start = starts[(i + 1) % len(starts)] + (length if i == len(starts) - 1 else 0)
        else:
            prev_end = starts[i - 1] + window if i > 0 else start
            next_start = starts[i + 1] if i + 1 < len(starts) else start + window
        ramps.append(_ramp(window, max(0, prev_end - start), max(0, start + window - next_start)))
    return ramps


def temporal_windows(length: int, window: int, overlap: int, taper: bool = False) -> CropLayout:
    """Windows of `window` frames over the last axis of a canvas of `length` frames, `overlap` frames shared.

    When the length is not a multiple of the stride, the last window is aligned to the end of the
    canvas, so it overlaps its predecessor by more than `overlap` frames. `taper`: see CropLayout.
    """
    if window <= 0 or length <= 0:
        raise ValueError(f"window ({window}) and length ({length}) must be positive")
    if not 0 <= overlap < window:
        raise ValueError(f"overlap ({overlap}) must be at least 0 and smaller than the window ({window})")
    if window > length:
        raise ValueError(f"window ({window} frames) is longer than the canvas ({length} frames); shorten the window")
    return temporal_windows_at(length, window, _window_starts(length, window, window - overlap, wrap=False), taper)


def temporal_windows_at(length: int, window: int, starts: Sequence[int], taper: bool = False) -> CropLayout:
    """Windows of `window` frames beginning at the given increasing `starts` on a canvas of `length` frames."""
    starts = [int(s) for s in starts]
    if not starts or any(b <= a for a, b in zip(starts, starts[1:])):
        raise ValueError(f"window starts must be a non-empty increasing list, got {starts}")
    if starts[0] < 0 or starts[-1] + window > length:
        raise ValueError(f"windows of {window} frames at {starts} do not fit a canvas of {length} frames")
    indices = torch.stack([torch.arange(s, s + window) for s in starts])
    ramps = torch.stack(_axis_ramps(starts, window, length, wrap=False))
    return CropLayout((length,), (window,), indices, ramps, starts, taper)


def _pair(value: int | tuple[int, int], name: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or min(pair) <= 0:
        raise ValueError(f"{name} must be a positive int or a pair of positive ints, got {value!r}")
    return pair  # type: ignore[return-value]


def spatial_windows(
    height: int, width: int, window: int | tuple[int, int], stride: int | tuple[int, int], wrap: bool = False
) -> CropLayout:
    """Windows over the last two axes (height, width) in raster order; `wrap` joins the width circularly."""
    window_h, window_w = _pair(window, "window")
    stride_h, stride_w = _pair(stride, "stride")
    if window_h > height or (window_w > width):
        raise ValueError(
            f"window {window_h}x{window_w} is larger than the canvas {height}x{width}; use a smaller window"
        )
    if stride_h > window_h or stride_w > window_w:
        raise ValueError(f"stride {stride_h}x{stride_w} is larger than the window, which would leave gaps")
    starts_h = _window_starts(height, window_h, stride_h, wrap=False)
    starts_w = _window_starts(width, window_w, stride_w, wrap=wrap)
    ramps_h = _axis_ramps(starts_h, window_h, height, wrap=False)
    ramps_w = _axis_ramps(starts_w, window_w, width, wrap=wrap)
    rows = torch.arange(window_h)
    cols = torch.arange(window_w)
    indices, ramps, starts = [], [], []
    for i, top in enumerate(starts_h):
        for j, left in enumerate(starts_w):
            r = top + rows[:, None]
            c = (left + cols[None, :]) % width
            indices.append((r * width + c).flatten())
            ramps.append((ramps_h[i][:, None] * ramps_w[j][None, :]).flatten())
            starts.append((top, left))
    return CropLayout((height, width), (window_h, window_w), torch.stack(indices), torch.stack(ramps), starts)
