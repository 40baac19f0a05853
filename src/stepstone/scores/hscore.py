"""H-score (Bao et al., ICIP 2019) and its Ledoit-Wolf shrinkage form (Ibrahim et al., 2022).

With Σ_f the covariance of the (centred) features and Σ_g = Σ_c p_c (μ_c − μ)(μ_c − μ)ᵀ the
covariance of the class-conditional means,

    H   = tr(Σ_f⁺ Σ_g)                                  ∈ [0, C − 1]
    H_α = tr([(1 − α)Σ_f + α·(tr Σ_f / D)·I]⁻¹ (1 − α)Σ_g)

with α the Ledoit-Wolf shrinkage of Σ_f. Both are computed from one eigendecomposition of Σ_f
(the shrunk matrix has the same eigenvectors), in float64. Classification only.

Plain H-score saturates at C − 1 whenever N − 1 ≤ D (any features fit any labels then), so it
carries no ranking signal for small targets; the shrinkage form stays informative.
Covariances are the biased (1/N) ones on both sides; transformer-ranker divides Σ_g by N − 1,
so its shrinkage H-score is N/(N − 1) times this one (rankings are the same).
"""

from __future__ import annotations

import numpy as np

from ._inputs import check_rows, class_ids, class_means, feature_matrix, rank_tolerance


def ledoit_wolf_alpha(features: np.ndarray) -> float:
    """Ledoit-Wolf optimal shrinkage α ∈ [0, 1] of the covariance of ``features``, by
    ``sklearn.covariance.ledoit_wolf_shrinkage`` (0 for constant features, where scikit-learn
    divides by zero). Shapes: features (N, D) -> float."""
    from sklearn.covariance import ledoit_wolf_shrinkage as sklearn_ledoit_wolf

    x = feature_matrix(features)
    x = x - x.mean(0)
    if not np.any(x):
        return 0.0
    return float(sklearn_ledoit_wolf(x, assume_centered=True))


#: the public name (stepstone.scores.ledoit_wolf_shrinkage), scikit-learn's estimate
ledoit_wolf_shrinkage = ledoit_wolf_alpha


def hscore(features: np.ndarray, labels: np.ndarray, *, regression: bool = False) -> float:
    """H-score tr(Σ_f⁺ Σ_g) (higher = classes better separated by the features).

    Shapes: features (N, D), labels (N,) class ids -> float in [0, C − 1]. The pseudo-inverse
    drops eigenvalues below max(N, D)·eps·λ_max. Classification only.
    """
    return _hscore(features, labels, regression=regression, shrink=False, name="hscore")


def shrinkage_hscore(features: np.ndarray, labels: np.ndarray, *,
                     regression: bool = False) -> float:
    """Shrinkage (regularised) H-score with the Ledoit-Wolf α; informative also for N < D.

    Shapes: features (N, D), labels (N,) class ids -> float ≥ 0. Classification only.
    """
    return _hscore(features, labels, regression=regression, shrink=True,
                   name="shrinkage-hscore")


def _hscore(features: np.ndarray, labels: np.ndarray, *, regression: bool, shrink: bool,
            name: str) -> float:
    check_rows(features, labels)
    ids, classes = class_ids(labels, score=name, regression=regression)
    x = feature_matrix(features)
    x = x - x.mean(0)
    n, d = x.shape
    cov = x.T @ x / n
    alpha = ledoit_wolf_alpha(x) if shrink else 0.0
    eigvals, eigvecs = np.linalg.eigh(cov)
    eigvals = (1.0 - alpha) * eigvals + alpha * np.trace(cov) / d
    keep = eigvals > rank_tolerance(eigvals, n, d)
    if not keep.any():  # constant features: no class information at all
        return 0.0
    means, counts = class_means(x, ids, classes)  # centred class means μ_c − μ
    proj = means @ eigvecs[:, keep]  # (C, k)
    weighted = (counts / n)[:, None] * proj**2 / eigvals[keep][None, :]
    return float((1.0 - alpha) * weighted.sum())
