"""How much each example moves LogME: the influence function behind a cheap bootstrap.

Give example i the weight w_i (a bootstrap resample draws w = counts, Σw = N). The log
evidence at its maximum over (α, β) and over the posterior mean m is, per target column,

    L(w) = D/2 log α + Σw/2 log β − ½ log det(αI + β Σ w_i φ_iφ_iᵀ)
           − β/2 Σ w_i (y_i − φ_iᵀm)² − α/2 ‖m‖² − Σw/2 log 2π.

Because (α, β, m) maximise it, their change does not enter the first derivative (envelope
theorem), so

    ∂L/∂w_i = ½ log β − ½ log 2π − β/2 · (r_i² + h_i)

with the residual r_i = y_i − φ_iᵀm, the leverage
h_i = φ_iᵀ(αI + βΦᵀΦ)⁻¹φ_i and c the same for every example. LogME is L/N averaged over the
columns; a resample keeps Σw = N, so c and the 1/N² term drop out of Σ(w_i − 1)∂/∂w_i and

    LogME(w) ≈ LogME + Σ_i (w_i − 1) ψ_i / N,   ψ_i = mean over columns of −β/2 (r_i² + h_i).

This first-order (linearised) bootstrap costs one pass over the N examples per resample once
ψ is known, and it is centred on the full-sample score by construction: re-scoring resampled
rows exactly shifts every source's LogME by a source-dependent amount (duplicated rows look
easier to fit), which a ranking of scores that differ in the third decimal cannot afford.
"""

from __future__ import annotations

import numpy as np

from ..errors import ScoreError
from .esm_logme import TargetStats
from .logme import _above_rank_tolerance, label_matrix, maximize_evidence


def logme_influence(features: np.ndarray, labels: np.ndarray, *,
                    regression: bool = False) -> np.ndarray:
    """ψ (N,): each example's first-order effect on LogME per unit of weight, times N.

    Shapes: features (N, D), labels (N,) class ids or (N,)/(N, K) values -> (N,). See the
    module docstring; ``logme(F[rows]) ≈ logme(F) + (counts(rows) − 1) @ ψ / N``.
    """
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or len(f) != len(labels):
        raise ScoreError(f"features must be (N, D) with N = {len(labels)} labels, got {f.shape}")
    return _influence(f.T @ f, f, lambda vecs: f @ vecs, labels, regression=regression)


def esm_logme_influence(stats: TargetStats, f_aug: np.ndarray, esm: np.ndarray,
                        labels: np.ndarray, *, regression: bool = False) -> np.ndarray:
    """:func:`logme_influence` of the mapped features F_aug·A without forming their Gram from
    N rows: AᵀGA from the target's QR factor (O(D³)), then one (N, D) product.

    Shapes: f_aug (N, D+1), esm (D+1, D) -> (N,)."""
    root = stats.factor @ esm  # (D+1, D): rootᵀroot = AᵀGA
    return _influence(root.T @ root, f_aug, lambda vecs: f_aug @ (esm @ vecs), labels,
                      regression=regression)


def _influence(gram: np.ndarray, rows: np.ndarray, rotated, labels: np.ndarray, *,
               regression: bool) -> np.ndarray:
    """ψ from the features' Gram (D, D) and ``rotated(V)`` = the features in the basis V."""
    y = label_matrix(labels, regression=regression)  # (N, K)
    n, d = len(rows), gram.shape[0]
    sigma, vecs = np.linalg.eigh(0.5 * (gram + gram.T))
    keep = _above_rank_tolerance(sigma, n, d)
    sigma, vecs = sigma[keep], vecs[:, keep]  # the span of F; dropped directions carry no φ_i
    u = rotated(vecs)  # (N, k)
    proj = u.T @ y  # (k, K)
    x2 = proj**2 / sigma[:, None]
    residual0 = (y**2).sum(0) - x2.sum(0)
    s = sigma[:, None]

    def moments(t: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, ...]:
        t = t[None, :]
        return ((s / (s + t)).sum(0), (s * x2 / (t + s) ** 2).sum(0),
                (x2 / (1.0 + s / t) ** 2).sum(0) + residual0)

    alpha, beta, _, _ = maximize_evidence(moments, (y.shape[1],), n=n)
    t = alpha / beta  # (K,)
    fitted = u @ (proj / (s + t[None, :]))  # (N, K): Φm with m = (ΦᵀΦ + tI)⁻¹Φᵀy
    leverage = (u**2) @ (1.0 / (alpha[None, :] + beta[None, :] * s))  # (N, K)
    psi = -0.5 * beta[None, :] * ((y - fitted) ** 2 + leverage)
    return psi.mean(axis=1)


def resampled_logme(score: float, psi: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """Linearised LogME on bootstrap draws. Shapes: psi (N,), draws (R, N) row indices ->
    (R,) = score + (counts − 1) @ ψ / N."""
    n = len(psi)
    counts = np.stack([np.bincount(rows, minlength=n) for rows in draws]).astype(np.float64)
    return score + (counts - 1.0) @ psi / n
