"""Windows over time that belong to groups, and a canvas whose channels each group owns where and how much it says.

A group is one source of content (a track with its own condition); its windows run over the last axis of the canvas,
all `window` long. `ownership` [G, *lat, T] says, for every latent channel and frame, how much of the canvas each
group provides there (shares summing to 1 over the groups; 0/1 except where ownership passes from one group to
another). The canvas takes every channel and frame from the groups owning it, a group's own windows blended by their
cross-fade ramps (or equally, or the latest one), so window n's share s_n(c, f) is its group's ownership times its
weight among its group's windows there.

SyncSDE's targets follow: window n is pulled toward what the other windows make, with precision M_n = 1 − s_n, and
X̃_n = (C − s_n·y_n) / (1 − s_n), the canvas C without window n's own part. Then M_n ⊙ (X̃_n − y_n) = C − y_n: a
window that alone owns a channel and frame is free there (M = 0), a window of another group is pulled all the way
(M = 1), and windows sharing ownership meet halfway. With `wrap`, the last axis is a circle (frame T follows
frame T − 1), so windows run across the end and the canvas has no first or last frame.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .windows import STITCH_MODES, Layout


def _edge_overlaps(covered_by_others: torch.Tensor) -> tuple[int, int]:
    """How many leading and trailing positions of a window other windows of its group also cover."""
    values = covered_by_others.tolist()
    leading = next((i for i, covered in enumerate(values) if not covered), len(values))
    trailing = next((i for i, covered in enumerate(reversed(values)) if not covered), len(values))
    return leading, trailing


class OwnedWindows(Layout):
    """Windows of `window` frames at `starts` over a canvas of `length` frames, window n belonging to group `groups[n]`."""

    def __init__(self, length: int, window: int, starts: Sequence[int], groups: Sequence[int], ownership: torch.Tensor,
                 wrap: bool = False) -> None:
        if not 0 < window <= length:
            raise ValueError(f"windows of {window} frames do not fit a canvas of {length} frames; shorten the window")
        if len(starts) != len(groups) or not starts:
            raise ValueError(f"give one group per window: {len(starts)} starts, {len(groups)} groups")
        if ownership.shape[-1] != length or ownership.dim() < 2:
            raise ValueError(f"ownership must be [groups, *latent, {length}], got {tuple(ownership.shape)}")
        if not torch.allclose(ownership.sum(0), torch.ones(())):
            raise ValueError("ownership shares must sum to 1 over the groups at every channel and frame")
        self.length, self.wrap = length, wrap
        self.starts = [int(s) for s in starts]
        self.groups = [int(g) for g in groups]
        if not wrap and (min(self.starts) < 0 or max(self.starts) + window > length):
            raise ValueError(f"windows of {window} frames at {self.starts} do not fit a canvas of {length} frames")
        if min(self.groups) < 0 or max(self.groups) >= ownership.shape[0]:
            raise ValueError(f"window groups {sorted(set(self.groups))} are not among the {ownership.shape[0]} owning groups")
        self.num_windows = len(self.starts)
        self.window_dims = (window,)
        self.canvas_dims = (length,)
        self.ownership = ownership.float()
        self.frames = torch.stack([(start + torch.arange(window)) % length for start in self.starts])  # [N, W]
        self._ramps = self._cross_fade_ramps()
        self._latest = self._latest_windows()
        self._shares: dict[tuple[str, float], torch.Tensor] = {}
        group_cover = torch.zeros(ownership.shape[0], length)
        for n, group in enumerate(self.groups):
            group_cover[group, self.frames[n]] = 1
        owned = ownership.reshape(ownership.shape[0], -1, length).amax(1) > 0  # [G, T]
        if bool((owned & (group_cover == 0)).any()):
            raise ValueError("a group owns frames none of its windows cover; give it windows there")

    def _cross_fade_ramps(self) -> torch.Tensor:
        """Each window's weight among its group's windows [N, W]: linear fades across overlaps with them."""
        window = self.window_dims[0]
        position = torch.arange(window, dtype=torch.float32) + 0.5
        ramps = torch.ones(self.num_windows, window)
        for n, group in enumerate(self.groups):
            others = torch.zeros(self.length, dtype=torch.bool)
            for m, other in enumerate(self.groups):
                if m != n and other == group:
                    others[self.frames[m]] = True
            leading, trailing = _edge_overlaps(others[self.frames[n]])
            if leading:
                ramps[n] = torch.minimum(ramps[n], position / leading)
            if trailing:
                ramps[n] = torch.minimum(ramps[n], (window - position) / trailing)
        return ramps

    def _latest_windows(self) -> torch.Tensor:
        """1 where a window is the latest of its group on a frame (pasting lays windows in order) [N, W]."""
        latest = torch.zeros(self.num_windows, self.window_dims[0])
        last_of_group: dict[tuple[int, int], int] = {}
        for n, group in enumerate(self.groups):
            for frame in self.frames[n].tolist():
                last_of_group[(group, frame)] = n
        for (_, frame), n in last_of_group.items():
            latest[n, (self.frames[n] == frame).nonzero()[:, 0]] = 1
        return latest

    def shares(self, mode: str = "crossfade", power: float = 1.0) -> torch.Tensor:
        """s_n(c, p) [N, *lat, W]: how much window n makes of the canvas at each of its channels and positions."""
        key = (mode, power)
        if key not in self._shares:
            weights = {"crossfade": self._ramps ** power, "mean": torch.ones_like(self._ramps), "paste": self._latest}[mode]
            group_total = torch.zeros(self.ownership.shape[0], self.length)
            for n, group in enumerate(self.groups):
                group_total[group].index_add_(0, self.frames[n], weights[n])
            shares = []
            for n, group in enumerate(self.groups):
                within = weights[n] / group_total[group, self.frames[n]].clamp_min(1e-12)
                shares.append(self.ownership[group][..., self.frames[n]] * within)
            self._shares[key] = torch.stack(shares)
        return self._shares[key]

    def crop(self, canvas: torch.Tensor) -> torch.Tensor:
        """Windows [B, N, *lat, W] cut from a canvas [B, *lat, T]."""
        return canvas[..., self.frames].movedim(-2, 1)

    def _composite(self, windows: torch.Tensor, shares: torch.Tensor) -> torch.Tensor:
        """Σ_n s_n·y_n laid on the canvas [B, *lat, T]."""
        weighted = (windows * shares.to(windows)).movedim(1, -2)  # [B, *lat, N, W]
        canvas = weighted.new_zeros((*weighted.shape[:-2], self.length))
        return canvas.index_add_(-1, self.frames.flatten().to(windows.device), weighted.flatten(-2))

    def merge(self, windows: torch.Tensor, mode: str = "mean") -> torch.Tensor:
        """The canvas [B, *lat, T]: every channel and frame from its owners' windows, blended as `mode` says."""
        if mode not in STITCH_MODES:
            raise ValueError(f"unknown stitch mode {mode!r}; choose one of {', '.join(STITCH_MODES)}")
        return self._composite(windows, self.shares(mode))

    def merge_interior(self, windows: torch.Tensor, power: float) -> torch.Tensor:
        """The canvas with a group's windows weighted by their cross-fade ramps to `power` (0: the mean)."""
        return self._composite(windows, self.shares("crossfade", power))

    def targets(self, windows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """X̃_n, the canvas without window n's own share, and M_n = 1 − s_n (see the module docstring)."""
        shares = self.shares("crossfade").to(windows)
        canvas = self.crop(self._composite(windows, shares))
        mask = 1 - shares
        x_tilde = torch.where(mask > 0, (canvas - shares * windows) / mask.clamp_min(1e-12), windows)
        return x_tilde, mask

    def pull(self, windows: torch.Tensor) -> torch.Tensor:
        """M ⊙ (X̃ − y), which is the canvas seen by each window minus the window."""
        return self.crop(self.merge(windows, "crossfade")) - windows
