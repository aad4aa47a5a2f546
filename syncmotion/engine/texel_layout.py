"""Views of one texture (mesh texturing): each window is a view, each view pixel sees one texel or only its background.

The canvas is the texture's T texels followed by one private slot per view pixel, [*lat, T + N·h·w]: a pixel that
sees texel k reads slot k, a background pixel reads its own slot. Windows start from their private slots (independent
noise per view, as in the official SyncSDE code). View i is pulled toward X̃_i, the texture baked from views 0..i−1
(the mean of their pixels on each texel) seen by view i, with M_i = 1 on the pixels whose texel those views cover.
"""

from __future__ import annotations

import torch

from .windows import STITCH_MODES, Layout


class TexelLayout(Layout):
    """N views of a texture of `num_texels` texels, given which texel each view pixel sees ([N, h, w], −1: none)."""

    def __init__(self, texels: torch.Tensor, num_texels: int) -> None:
        if texels.dim() != 3:
            raise ValueError(f"texels must be [views, h, w], got shape {tuple(texels.shape)}")
        if int(texels.max()) >= num_texels or int(texels.min()) < -1:
            raise ValueError(f"texel indices must lie in [-1, {num_texels - 1}]")
        self.num_windows = int(texels.shape[0])
        self.window_dims = tuple(int(size) for size in texels.shape[1:])
        self.num_texels = int(num_texels)
        pixels = int(texels[0].numel())
        self.canvas_dims = (self.num_texels + self.num_windows * pixels,)
        flat = texels.reshape(self.num_windows, pixels).long()
        self.texels = flat
        self.seen = flat >= 0
        self.private = self.num_texels + torch.arange(self.num_windows * pixels).reshape(self.num_windows, pixels)
        self.indices = torch.where(self.seen, flat, self.private)
        # Flat (view, texel) index of each seen pixel, for per-view sums in one scatter.
        self._view_texel = (torch.arange(self.num_windows).unsqueeze(1) * self.num_texels + flat)[self.seen]
        self._earlier_seen = self._earlier_counts(self.seen.float())  # [N, h·w]: earlier pixels on each pixel's texel
        self._covered_before = self._earlier_seen > 0

    def _flat(self, windows: torch.Tensor) -> torch.Tensor:
        """Windows [B, N, *lat, h, w] as [B, *lat, N, h·w]."""
        return windows.flatten(start_dim=-2).movedim(1, -2)

    def _unflat(self, flat: torch.Tensor) -> torch.Tensor:
        """[B, *lat, N, h·w] back to windows [B, N, *lat, h, w]."""
        return flat.movedim(-2, 1).unflatten(-1, self.window_dims)

    def texture(self, canvas: torch.Tensor) -> torch.Tensor:
        """The texels [B, *lat, T] of a canvas."""
        return canvas[..., : self.num_texels]

    def crop(self, canvas: torch.Tensor) -> torch.Tensor:
        """Each view's pixels [B, N, *lat, h, w]: its texel's value where it sees one, its own slot elsewhere."""
        return self._unflat(canvas[..., self.indices])

    def initial(self, canvas: torch.Tensor) -> torch.Tensor:
        """Starting windows from canvas noise: every pixel from its private slot, so views start independent."""
        return self._unflat(canvas[..., self.private])

    def merge(self, windows: torch.Tensor, mode: str = "mean") -> torch.Tensor:
        """The canvas: texels from the views seeing them (their mean, or with "paste" the latest view), private slots
        from their pixels; texels no view sees are zero."""
        if mode not in STITCH_MODES:
            raise ValueError(f"unknown stitch mode {mode!r}; choose one of {', '.join(STITCH_MODES)}")
        flat = self._flat(windows)
        canvas = flat.new_zeros((*flat.shape[:-2], self.canvas_dims[0]))
        canvas[..., self.private.flatten()] = flat.flatten(-2)
        if mode == "paste":
            for view in range(self.num_windows):
                seen = self.seen[view]
                canvas[..., self.texels[view, seen]] = flat[..., view, seen]
            return canvas
        seen_values = flat.flatten(-2)[..., self.seen.flatten()]
        texels = self.texels[self.seen]
        total = flat.new_zeros((*flat.shape[:-2], self.num_texels)).index_add_(-1, texels, seen_values)
        count = flat.new_zeros(self.num_texels).index_add_(0, texels, torch.ones_like(texels, dtype=flat.dtype))
        canvas[..., : self.num_texels] = total / count.clamp(min=1)
        return canvas

    def _earlier_counts(self, flat: torch.Tensor) -> torch.Tensor:
        """Σ over views j < i of `flat`'s seen pixels on the texel each pixel of view i sees: [..., N, h·w]."""
        values = flat.flatten(-2)[..., self.seen.flatten()]
        sums = flat.new_zeros((*flat.shape[:-2], self.num_windows * self.num_texels))
        sums.index_add_(-1, self._view_texel, values)
        per_view = sums.unflatten(-1, (self.num_windows, self.num_texels))
        before = per_view.cumsum(-2) - per_view  # exclusive: views strictly before each view
        lookup = torch.arange(self.num_windows).unsqueeze(1) * self.num_texels + self.texels.clamp(min=0)
        gathered = before.flatten(-2)[..., lookup]
        return torch.where(self.seen, gathered, 0.0)

    def targets(self, windows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """X̃ (the earlier views' mean on each pixel's texel, the window itself where none) and M [N, 1.., h, w]."""
        flat = self._flat(windows)
        sums = self._earlier_counts(flat)
        mask = self._covered_before.to(flat)
        x_tilde = torch.where(mask > 0, sums / self._earlier_seen.to(flat).clamp(min=1), flat)
        latent_ones = [1] * (windows.dim() - 2 - len(self.window_dims))
        return self._unflat(x_tilde), mask.reshape(self.num_windows, *latent_ones, *self.window_dims)
