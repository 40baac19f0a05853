"""ESM-LogME for many ESMs at once, without ever forming the mapped features.

With F_aug = [F, 1] (N × (D+1)) the target's base embeddings and A = [Wᵀ; bᵀ] an ESM, the
mapped features are Φ = F_aug A. LogME needs only ΦᵀΦ = Aᵀ G A and ΦᵀY = Aᵀ Z, where
G = F_augᵀF_aug and Z = F_augᵀY are computed once per target. Each ESM then costs O(D³)
whatever N is, and a block of ESMs is one batched product and one batched eigen-solve.

This is the reference path (full eigendecompositions). Ranking uses ``scorer.ESMLogMEScorer``:
a tridiagonal reduction per ESM on CPU threads (``fast``), or batched torch on a GPU
(``torch_route``), both equal to this to round-off.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import ScoreError
from ._blas import single_threaded_blas
from ..logme import _above_rank_tolerance, evidence, label_matrix


@dataclass(frozen=True)
class TargetStats:
    """Sufficient statistics of a target for ESM-LogME.

    Shapes: gram (D+1, D+1) = F_augᵀF_aug, cross (D+1, K) = F_augᵀY, y_sq (K,) = ‖y_k‖²,
    factor (D+1, D+1) upper triangular R with RᵀR = gram (from a QR of F_aug, so that a mapped
    Gram AᵀGA = (RA)ᵀ(RA) is formed without squaring the condition number twice).
    """

    gram: np.ndarray
    cross: np.ndarray
    y_sq: np.ndarray
    n: int
    factor: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.factor is None:  # built from a Gram alone: any square root, made triangular
            sigma, vecs = np.linalg.eigh(self.gram)
            root = np.sqrt(np.clip(sigma, 0.0, None))[:, None] * vecs.T
            object.__setattr__(self, "factor", _upper_factor(root, self.gram.shape[0]))

    @property
    def dim(self) -> int:
        return self.gram.shape[0] - 1

    @classmethod
    def from_features(cls, features: np.ndarray, labels: np.ndarray, *,
                      regression: bool = False) -> TargetStats:
        """Shapes: features (N, D) base embeddings, labels (N,) or (N, K)."""
        f = np.asarray(features, dtype=np.float64)
        if f.ndim != 2 or len(f) != len(labels):
            raise ScoreError(f"features must be (N, D) with N = {len(labels)}, got {f.shape}")
        f_aug = np.hstack([f, np.ones((len(f), 1))])
        y = label_matrix(labels, regression=regression)
        with single_threaded_blas():  # the same bits whatever the thread count (see _blas)
            return cls(gram=f_aug.T @ f_aug, cross=f_aug.T @ y, y_sq=(y**2).sum(0), n=len(f),
                       factor=_upper_factor(f_aug, f_aug.shape[1]))


def _upper_factor(rows: np.ndarray, dim: int) -> np.ndarray:
    """Upper triangular R (dim, dim) with RᵀR = rowsᵀrows (zero rows added when rows < dim)."""
    r = np.linalg.qr(rows, mode="r")
    if r.shape[0] < dim:
        r = np.vstack([r, np.zeros((dim - r.shape[0], dim))])
    return np.asfortranarray(r)


def esm_logme(stats: TargetStats, maps: np.ndarray) -> np.ndarray:
    """ESM-LogME of a block of linear ESMs.

    Shapes: maps (B, D+1, D') stacked A = [Wᵀ; bᵀ] -> scores (B,). Equal to
    ``logme(F_aug @ A, labels)`` for each map, computed from ``stats`` alone.
    """
    maps = np.asarray(maps, dtype=np.float64)
    if maps.ndim != 3 or maps.shape[1] != stats.gram.shape[0]:
        raise ScoreError(f"maps must be (B, {stats.gram.shape[0]}, D'), got {maps.shape}")
    mapped_gram = np.matmul(maps.transpose(0, 2, 1), stats.gram @ maps)  # (B, D', D')
    mapped_gram = 0.5 * (mapped_gram + mapped_gram.transpose(0, 2, 1))
    mapped_cross = np.matmul(maps.transpose(0, 2, 1), stats.cross)  # (B, D', K)
    sigma, vecs = np.linalg.eigh(mapped_gram)
    proj = np.matmul(vecs.transpose(0, 2, 1), mapped_cross)  # (B, D', K)
    return spectral_esm_logme(sigma, proj, stats)


def spectral_esm_logme(sigma: np.ndarray, proj: np.ndarray, stats: TargetStats) -> np.ndarray:
    """ESM-LogME from the eigen-decomposition of each mapped Gram.

    Shapes: sigma (B, D') eigenvalues, proj (B, D', K) = VᵀAᵀZ (eigenvectors times the mapped
    cross products) -> (B,). Eigenvalues below the rank tolerance count as zero.
    """
    d_out = sigma.shape[1]
    keep = _above_rank_tolerance(sigma, stats.n, d_out)
    if stats.n <= d_out:  # rank ≤ N: only the N largest directions can be real
        keep &= np.argsort(np.argsort(-sigma, axis=1), axis=1) < stats.n
    with np.errstate(divide="ignore", invalid="ignore"):
        x2 = np.where(keep[..., None], proj**2 / sigma[..., None], 0.0)
    sigma = np.where(keep, sigma, 0.0)
    ev = evidence(sigma, x2, stats.y_sq[None, :], n=stats.n, d=d_out)
    return ev.mean(-1)
