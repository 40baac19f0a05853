"""LogME: the log maximum evidence of a Bayesian linear model of the labels on the features.

You et al., ICML 2021, with the fixed-point solver of "Ranking and Tuning Pre-trained Models"
(arXiv 2110.10545), in float64 and vectorised over target columns. Unlike the reference code
(thuml/LogME, hfselect) the evidence keeps the (D - k)·log α term when the features have rank
k < D (N < D, or collinear columns such as MiniLM's two all-zero embedding dimensions).

For one target column y ∈ R^N and features F ∈ R^{N×D}, with σ_i the eigenvalues of FᵀF (zeros
included, D of them) and m = β(αI + βFᵀF)⁻¹Fᵀy:

    log p(y | F, α, β) = D/2·log α + N/2·log β − N/2·log 2π
                         − ½·Σ_i log(α + β σ_i) − β/2·‖Fm − y‖² − α/2·‖m‖²

maximised over α, β; LogME is that maximum divided by N, averaged over the columns (one
indicator column per class present, or each regression output).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..errors import ScoreError

#: Fixed-point settings of the reference implementation (hfselect / thuml fixed point).
MAX_ITER = 50
TOL = 1e-3
_GUARD = 1e-5  # the reference code's +1e-5 in both denominators


def label_matrix(labels: np.ndarray, *, regression: bool = False) -> np.ndarray:
    """Target columns: (N,) class ids -> (N, C) one-vs-rest indicators of the classes present;
    (N,) or (N, K) regression values -> (N, K) float64."""
    labels = np.asarray(labels)
    if regression:
        y = labels.astype(np.float64)
        return y.reshape(len(y), -1)
    if labels.ndim != 1:
        raise ScoreError(f"class labels must be one-dimensional, got shape {labels.shape}")
    classes = np.unique(labels)
    return (labels[:, None] == classes[None, :]).astype(np.float64)


def spectrum(features: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues σ of FᵀF and squared projections x² of the targets on F's left singular
    vectors, from the smaller of the two Gram matrices.

    Shapes: features (N, D), targets (N, K) -> σ (k,), x² (k, K) with k = min(N, D); directions
    below the rank tolerance get σ = 0 and x² = 0 (their energy stays in the residual).
    """
    f = np.asarray(features, dtype=np.float64)
    n, d = f.shape
    if n > d:
        sigma, vecs = np.linalg.eigh(f.T @ f)
        proj = vecs.T @ (f.T @ targets)
        keep = _above_rank_tolerance(sigma, n, d)
        with np.errstate(divide="ignore", invalid="ignore"):
            x2 = np.where(keep[:, None], proj**2 / sigma[:, None], 0.0)
    else:
        sigma, vecs = np.linalg.eigh(f @ f.T)
        keep = _above_rank_tolerance(sigma, n, d)
        x2 = np.where(keep[:, None], (vecs.T @ targets) ** 2, 0.0)
    return np.where(keep, sigma, 0.0), x2


def _above_rank_tolerance(sigma: np.ndarray, n: int, d: int) -> np.ndarray:
    """Eigenvalues that are not round-off: σ > max(N, D)·eps·σ_max (per row of a batch)."""
    top = np.max(sigma, axis=-1, keepdims=True)
    return sigma > np.maximum(top, 0.0) * max(n, d) * np.finfo(np.float64).eps


def evidence(sigma: np.ndarray, x2: np.ndarray, y_sq: np.ndarray, *, n: int, d: int,
             max_iter: int = MAX_ITER, tol: float = TOL) -> np.ndarray:
    """Maximum log evidence per sample for every target column, by the fixed-point iteration.

    Shapes: sigma (..., k) eigenvalues of FᵀF (k ≤ D; zeros allowed), x2 (..., k, K) squared
    projections of the targets, y_sq (..., K) = ‖y‖² per column -> (..., K).
    The missing D - k eigenvalues are zero: they add (D - k)·log α to log det(αI + βFᵀF).
    """
    sigma = np.asarray(sigma, dtype=np.float64)[..., :, None]  # (..., k, 1)
    x2 = np.asarray(x2, dtype=np.float64)
    y_sq = np.asarray(y_sq, dtype=np.float64)
    shape = np.broadcast_shapes(y_sq.shape, x2.shape[:-2] + x2.shape[-1:])
    residual0 = y_sq - x2.sum(-2)  # energy of y outside the span of F

    def moments(t: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, ...]:
        t = t[..., None, :]
        gamma = (sigma / (sigma + t)).sum(-2)
        m2 = (sigma * x2 / (t + sigma) ** 2).sum(-2)
        res2 = (x2 / (1.0 + sigma / t) ** 2).sum(-2) + residual0
        return gamma, m2, res2

    alpha, beta, m2, res2 = maximize_evidence(moments, shape, n=n, max_iter=max_iter, tol=tol)
    k = sigma.shape[-2]
    log_det = np.log(alpha[..., None, :] + beta[..., None, :] * sigma).sum(-2) \
        + (d - k) * np.log(alpha)
    return log_evidence(alpha, beta, m2, res2, log_det, n=n, d=d)


def maximize_evidence(moments: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, ...]],
                      shape: tuple[int, ...], *, n: int, max_iter: int = MAX_ITER,
                      tol: float = TOL) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The reference fixed point, for any representation of the features.

    ``moments(t, active)`` returns γ(t) = Σσ/(σ+t), ‖m‖² and ‖y − Fm‖² for m = (FᵀF + tI)⁻¹Fᵀy,
    each of ``shape``, at t = α/β (it may skip lanes where ``active`` is False). Starting from
    α = β = 1, each step updates α = γ/(‖m‖² + 1e-5), β = (N − γ)/(‖y − Fm‖² + 1e-5); a lane stops
    when α/β moved by at most ``tol`` relative to the t it was computed from (hfselect's loop).
    Returns α, β and the ‖m‖², ‖y − Fm‖² of the last step, each of ``shape``.
    """
    alpha, beta = np.ones(shape), np.ones(shape)
    m2, res2 = np.zeros(shape), np.zeros(shape)
    active = np.ones(shape, dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        for _ in range(max_iter):
            t = alpha / beta
            gamma, m2_new, res2_new = moments(t, active)
            alpha_new = gamma / (m2_new + _GUARD)
            beta_new = (n - gamma) / (res2_new + _GUARD)
            converged = np.abs(alpha_new / beta_new - t) / t <= tol
            alpha = np.where(active, alpha_new, alpha)
            beta = np.where(active, beta_new, beta)
            m2 = np.where(active, m2_new, m2)
            res2 = np.where(active, res2_new, res2)
            active &= ~converged
            if not active.any():
                break
    return alpha, beta, m2, res2


def log_evidence(alpha: np.ndarray, beta: np.ndarray, m2: np.ndarray, res2: np.ndarray,
                 log_det: np.ndarray, *, n: int, d: int) -> np.ndarray:
    """Log evidence per sample at (α, β), given log det(αI + βFᵀF) over all D dimensions."""
    ev = (d / 2.0 * np.log(alpha) + n / 2.0 * np.log(beta) - 0.5 * log_det
          - beta / 2.0 * res2 - alpha / 2.0 * m2 - n / 2.0 * np.log(2.0 * np.pi))
    return ev / n


def logme(features: np.ndarray, labels: np.ndarray, *, regression: bool = False) -> float:
    """LogME of ``features`` for ``labels`` (higher = the features fit the labels better).

    Shapes: features (N, D); labels (N,) class ids, or (N,) / (N, K) values with
    ``regression=True`` -> float. Float64 throughout; correct for N < D and rank-deficient F.
    """
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or len(f) != len(labels):
        raise ScoreError(f"features must be (N, D) with N = {len(labels)} labels, got {f.shape}")
    if not np.isfinite(f).all():
        raise ScoreError("features contain NaN or inf")
    y = label_matrix(labels, regression=regression)
    sigma, x2 = spectrum(f, y)
    ev = evidence(sigma, x2, (y**2).sum(0), n=f.shape[0], d=f.shape[1])
    return float(ev.mean())
