"""Window layouts of the image tasks whose windows are whole images: mask-based T2I and visual anagrams.

Each window is its own trajectory over the full image, so the canvas is the stack of trajectories
[*lat, N, h, w] and each starts from its own noise, as in the official SyncSDE code. `merge(..., "paste")`
returns that stack; `"mean"` (what MultiDiffusion and SyncTweedies average through) puts the shared image the
task defines into every slot, seen through that slot's view.
"""

from __future__ import annotations

from abc import abstractmethod

import torch

from .windows import STITCH_MODES, Layout

VIEWS = ("flip", "rotate_cw", "rotate_ccw", "rotate_180")


class StackedLayout(Layout):
    """N full-image trajectories of size h×w, stacked on the canvas."""

    def __init__(self, num_windows: int, height: int, width: int) -> None:
        self.num_windows = num_windows
        self.window_dims = (height, width)
        self.canvas_dims = (num_windows, height, width)

    def crop(self, canvas: torch.Tensor) -> torch.Tensor:
        """Windows [B, N, *lat, h, w] from a stacked canvas [B, *lat, N, h, w]."""
        return canvas.movedim(-3, 1)

    def merge(self, windows: torch.Tensor, mode: str = "mean") -> torch.Tensor:
        """The stacked canvas: the windows themselves ("paste") or every slot's view of the shared image."""
        if mode not in STITCH_MODES:
            raise ValueError(f"unknown stitch mode {mode!r}; choose one of {', '.join(STITCH_MODES)}")
        if mode == "paste":
            return windows.movedim(1, -3)
        shared = self.shared(windows)
        return torch.stack([self.view(shared, index) for index in range(self.num_windows)], dim=-3)

    def _mask_shape(self, windows: torch.Tensor) -> tuple[int, ...]:
        latent_ones = (1,) * (windows.dim() - 4)
        return (self.num_windows, *latent_ones, *self.window_dims)

    @abstractmethod
    def shared(self, windows: torch.Tensor) -> torch.Tensor:
        """The one image [B, *lat, h, w] the windows agree on when averaged (MultiDiffusion's consensus)."""

    def view(self, image: torch.Tensor, index: int) -> torch.Tensor:
        """How window `index` sees the shared image (the identity unless a subclass transforms it)."""
        return image


class MaskedLayout(StackedLayout):
    """Mask-based T2I: 0 background prompt, 1 object prompt, 2 the output image.

    Window 1 is pulled to window 0 off the mask; window 2 to window 0 off the mask and to window 1 on it.
    """

    def __init__(self, mask: torch.Tensor) -> None:
        if mask.dim() != 2:
            raise ValueError(f"the mask must be one h×w plane in latent pixels, got shape {tuple(mask.shape)}")
        super().__init__(3, *mask.shape)
        self.mask = mask.float()

    def shared(self, windows: torch.Tensor) -> torch.Tensor:
        """Background outside the mask, object inside it (MultiDiffusion's region-based composite)."""
        mask = self.mask.to(windows)
        return (1 - mask) * windows[:, 0] + mask * windows[:, 1]

    def targets(self, windows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """X̃ (window 0 for window 1, the composite for window 2) and M (1−mask for window 1, 1 for window 2)."""
        mask = self.mask.to(windows)
        x_tilde = torch.stack([windows[:, 0], windows[:, 0], self.shared(windows)], dim=1)
        precision = torch.stack([torch.zeros_like(mask), 1 - mask, torch.ones_like(mask)])
        return x_tilde, precision.reshape(self._mask_shape(windows))


def apply_view(image: torch.Tensor, view: str, inverse: bool = False) -> torch.Tensor:
    """An image (or latent) [..., h, w] flipped upside down or rotated by a quarter or half turn."""
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; choose one of {', '.join(VIEWS)}")
    if view == "flip":
        return image.flip(-2)
    turns = {"rotate_ccw": 1, "rotate_cw": -1, "rotate_180": 2}[view]
    return torch.rot90(image, -turns if inverse else turns, dims=(-2, -1))


class AnagramLayout(StackedLayout):
    """Visual anagrams: window 1 (second prompt) is pulled toward the view of window 0 (first prompt), M = 1."""

    def __init__(self, height: int, width: int, view: str) -> None:
        if view not in VIEWS:
            raise ValueError(f"unknown view {view!r}; choose one of {', '.join(VIEWS)}")
        if view in ("rotate_cw", "rotate_ccw") and height != width:
            raise ValueError(f"a quarter-turn view needs a square image, got {height}x{width}; make them equal")
        super().__init__(2, height, width)
        self.view_name = view

    def shared(self, windows: torch.Tensor) -> torch.Tensor:
        """The mean of window 0 and window 1 seen back through the inverse view."""
        return (windows[:, 0] + apply_view(windows[:, 1], self.view_name, inverse=True)) / 2

    def view(self, image: torch.Tensor, index: int) -> torch.Tensor:
        """Window 0 sees the image as is, window 1 through the view."""
        return apply_view(image, self.view_name) if index == 1 else image

    def targets(self, windows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """X̃ = the view of window 0 for window 1; window 0 is free."""
        x_tilde = torch.stack([windows[:, 0], apply_view(windows[:, 0], self.view_name)], dim=1)
        precision = torch.tensor([0.0, 1.0]).to(windows)
        return x_tilde, precision.reshape(2, *(1,) * (windows.dim() - 2))
