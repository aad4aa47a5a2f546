"""A Gaussian-process oracle: a denoiser whose x0 prediction is the exact posterior mean (DESIGN.md section 6)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from syncmotion.engine.coefficients import alpha_bar_at


def squared_exponential(size: int, lengthscale: float, jitter: float = 1e-4) -> torch.Tensor:
    """Stationary squared-exponential covariance over `size` evenly spaced positions, unit variance."""
    position = torch.arange(size, dtype=torch.float64)
    distance = position[:, None] - position[None, :]
    return torch.exp(-0.5 * (distance / lengthscale) ** 2) + jitter * torch.eye(size, dtype=torch.float64)


class GaussianOracle:
    """Exact E[x0 | x_t] for windows drawn from a zero-mean Gaussian process with a separable covariance.

    The covariance of a window is the Kronecker product of one matrix per windowed axis (one for
    frames, two for height × width); latent channels are independent.
    """

    prediction_type = "sample"

    def __init__(self, scheduler, axis_covariances: Sequence[torch.Tensor]) -> None:
        self.alphas_scheduler = scheduler
        self.eigen = [torch.linalg.eigh(cov.double()) for cov in axis_covariances]
        spectrum = self.eigen[0].eigenvalues
        for decomposition in self.eigen[1:]:
            spectrum = spectrum[..., None] * decomposition.eigenvalues
        self.spectrum = spectrum

    def covariance(self) -> torch.Tensor:
        """The full window covariance (Kronecker product of the axis covariances)."""
        full = self.eigen[0].eigenvectors @ torch.diag(self.eigen[0].eigenvalues) @ self.eigen[0].eigenvectors.T
        for decomposition in self.eigen[1:]:
            axis = decomposition.eigenvectors @ torch.diag(decomposition.eigenvalues) @ decomposition.eigenvectors.T
            full = torch.kron(full, axis)
        return full

    def _transform(self, x: torch.Tensor, inverse: bool) -> torch.Tensor:
        axes = len(self.eigen)
        for axis, decomposition in enumerate(self.eigen):
            basis = decomposition.eigenvectors if inverse else decomposition.eigenvectors.T
            x = torch.movedim(torch.movedim(x, x.dim() - axes + axis, -1) @ basis.T, -1, x.dim() - axes + axis)
        return x

    def __call__(self, sample: torch.Tensor, timesteps: torch.Tensor, conds: Sequence[Any]) -> torch.Tensor:
        """Posterior mean of x0 given each window's x_t (conditions are ignored)."""
        alpha_bar = alpha_bar_at(self.alphas_scheduler, timesteps).double()
        alpha_bar = alpha_bar.reshape(-1, *([1] * (sample.dim() - 1)))
        # In the eigenbasis the posterior mean is a per-mode gain: √ᾱ s / (ᾱ s + 1 − ᾱ).
        gain = alpha_bar.sqrt() * self.spectrum / (alpha_bar * self.spectrum + 1 - alpha_bar)
        coefficients = self._transform(sample.double(), inverse=False)
        return self._transform(coefficients * gain, inverse=True).to(sample.dtype)


def seam_pairs(length: int, seams: Sequence[int], reach: int) -> torch.Tensor:
    """Boolean [L, L] mask of frame pairs on opposite sides of a seam and at most `reach` frames apart."""
    frames = torch.arange(length)
    across = torch.zeros(length, length, dtype=torch.bool)
    for seam in seams:
        across |= (frames[:, None] < seam) & (frames[None, :] >= seam) & (frames[None, :] - frames[:, None] <= reach)
    return across | across.T


def score_samples(samples: torch.Tensor, truth: torch.Tensor, seams: Sequence[int], reach: int) -> dict[str, float]:
    """Distances of the empirical covariance of samples [S, *canvas_dims] to the true covariance of the flat canvas.

    Seams are positions along the last axis (frames in 1D, columns in 2D, where they are vertical lines).
    cov_error: relative Frobenius error over the whole canvas; seam_cov_error: the same over position pairs whose
    last-axis coordinates lie on opposite sides of a seam within `reach`; var_error / max_var_error: mean / largest
    relative error of the per-position variance; seam_step_error: relative error of the variance of the one-step
    difference across each seam, averaged over seams and over the rows along them.
    """
    samples = samples.double()
    truth = truth.double()
    width = samples.shape[-1]
    grid = samples.reshape(samples.shape[0], -1, width)  # [S, rows, last axis]
    flat = grid.flatten(1)
    empirical = flat.T @ flat / flat.shape[0]
    difference = empirical - truth
    column = torch.arange(flat.shape[1]) % width
    across = seam_pairs(width, seams, reach)[column[:, None], column[None, :]]
    variance_error = (empirical.diagonal() - truth.diagonal()).abs() / truth.diagonal()
    seam_index = torch.tensor(list(seams))
    left = (torch.arange(grid.shape[1])[:, None] * width + seam_index - 1).flatten()
    right = left + 1
    step_true = (truth[right, right] + truth[left, left] - 2 * truth[right, left]).reshape(grid.shape[1], -1)
    steps = grid[:, :, seam_index] - grid[:, :, seam_index - 1]
    return {
        "cov_error": float(difference.norm() / truth.norm()),
        "seam_cov_error": float(difference[across].norm() / truth[across].norm()),
        "var_error": float(variance_error.mean()),
        "max_var_error": float(variance_error.max()),
        "seam_step_error": float(((steps.pow(2).mean(0) - step_true).abs() / step_true).mean()),
    }
