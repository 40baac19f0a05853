"""Domain divergence: the Fréchet distance between Gaussian fits of two embedding samples.

After "Divergence-Based Domain Transferability" (the 2-Wasserstein distance between Gaussians):

    FD² = ‖μ_s − μ_t‖² + tr Σ_s + tr Σ_t − 2 tr (Σ_s^½ Σ_t Σ_s^½)^½

A source's covariance is stored in low-rank form (top-r eigenpairs, the rest of its trace spread
evenly over the remaining D − r directions), so the distance needs only (D, r) numbers per source
and keeps tr Σ_s exact. Lower distance = more alike; the ranking method negates it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ScoreError
from ._inputs import feature_matrix


@dataclass(frozen=True)
class GaussianFit:
    """A Gaussian fit of embeddings: mean (D,), top eigenvectors (D, r) and eigenvalues (r,) of
    the covariance, its total trace and the number of examples it was fitted on.

    The covariance it stands for is ``V diag(λ) Vᵀ + σ² (I − V Vᵀ)`` with
    ``σ² = (trace − Σλ) / (D − r)`` (0 when r = D)."""

    mean: np.ndarray
    basis: np.ndarray
    eigvals: np.ndarray
    trace: float
    num_examples: int

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])

    @property
    def residual(self) -> float:
        """σ²: the variance per direction outside the basis."""
        rest = self.dim - self.basis.shape[1]
        return max(self.trace - float(self.eigvals.sum()), 0.0) / rest if rest else 0.0

    def covariance(self) -> np.ndarray:
        """The (D, D) covariance the fit stands for."""
        v = self.basis.astype(np.float64)
        low = (v * self.eigvals) @ v.T
        return low + self.residual * (np.eye(self.dim) - v @ v.T)

    def sqrt_covariance(self) -> np.ndarray:
        """Σ^½ (D, D): the same eigenvectors with square-rooted eigenvalues."""
        v = self.basis.astype(np.float64)
        root = (v * np.sqrt(np.clip(self.eigvals, 0, None))) @ v.T
        return root + np.sqrt(self.residual) * (np.eye(self.dim) - v @ v.T)

    def to_tensors(self) -> dict[str, np.ndarray]:
        """The stored form (basis as float16: its entries are bounded by 1)."""
        return {"domain_mean": self.mean.astype(np.float32),
                "domain_basis": self.basis.astype(np.float16),
                "domain_eigvals": self.eigvals.astype(np.float32),
                "domain_trace": np.asarray([self.trace], dtype=np.float64),
                "domain_examples": np.asarray([self.num_examples], dtype=np.int64)}

    @classmethod
    def from_tensors(cls, stats: dict[str, np.ndarray]) -> GaussianFit:
        """Read the stored form; raises KeyError when the statistics have no domain fit."""
        basis = stats["domain_basis"].astype(np.float64)
        # float16 rounding leaves the columns orthonormal to ~1e-3; re-orthonormalise them
        basis, _ = np.linalg.qr(basis)
        return cls(mean=stats["domain_mean"].astype(np.float64), basis=basis,
                   eigvals=stats["domain_eigvals"].astype(np.float64),
                   trace=float(stats["domain_trace"][0]),
                   num_examples=int(stats["domain_examples"][0]))


def fit_gaussian(features: np.ndarray, *, rank: int | None = None) -> GaussianFit:
    """Gaussian fit of ``features`` (N, D) with the covariance's top ``rank`` eigenpairs (all D
    when None). The covariance is the maximum-likelihood one (divided by N)."""
    x = feature_matrix(features)
    if len(x) < 2:
        raise ScoreError(f"a Gaussian fit needs at least 2 examples, got {len(x)}")
    d = x.shape[1]
    rank = d if rank is None else int(rank)
    if not 1 <= rank <= d:
        raise ScoreError(f"rank must be in 1..{d}, got {rank}")
    mean = x.mean(0)
    cov = np.cov(x, rowvar=False, bias=True).reshape(d, d)
    values, vectors = np.linalg.eigh(cov)
    top = np.argsort(values)[::-1][:rank]
    return GaussianFit(mean=mean, basis=vectors[:, top], eigvals=np.clip(values[top], 0, None),
                       trace=float(np.trace(cov)), num_examples=len(x))


def frechet_distance(source: GaussianFit, target_features: np.ndarray) -> float:
    """Squared Fréchet (2-Wasserstein) distance between ``source`` and the full-covariance
    Gaussian fit of ``target_features`` (N, D). Float64; ≥ 0 up to round-off.

    tr (Σ_s^½ Σ_t Σ_s^½)^½ is the sum of the singular values of X₀ Σ_s^½ / √N (X₀ the centred
    target), which avoids forming Σ_t and a matrix square root."""
    x = feature_matrix(target_features)
    if x.shape[1] != source.dim:
        raise ScoreError(f"target features have {x.shape[1]} dims, the source fit "
                         f"{source.dim}")
    mean = x.mean(0)
    centred = x - mean
    trace_t = float(np.einsum("ij,ij->", centred, centred)) / len(x)
    cross = np.linalg.svd(centred @ source.sqrt_covariance() / np.sqrt(len(x)),
                          compute_uv=False).sum()
    gap = mean - source.mean
    return float(gap @ gap + source.trace + trace_t - 2.0 * cross)
