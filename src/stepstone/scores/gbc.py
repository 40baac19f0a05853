"""GBC, the Gaussian Bhattacharyya Coefficient (Pándy et al., CVPR 2022).

Features are reduced by PCA to 64 dimensions; each class c is a Gaussian with mean μ_c and
per-dimension variances v_c (biased, floored at 1e-4), or, for the default spherical variant,
one variance s_c = mean(v_c) on every dimension. With Σ = (Σ_i + Σ_j)/2,

    D_B(i, j) = ⅛ (μ_i − μ_j)ᵀ Σ⁻¹ (μ_i − μ_j) + ½ ln(det Σ / √(det Σ_i det Σ_j))
    GBC = −Σ_{i≠j} exp(−D_B(i, j))                       ∈ [−C(C − 1), 0]

Log-determinants are sums of logs. Deviation: for spherical Gaussians the log-determinant term
counts all d dimensions (d·ln s), as the definition says; google-research's stable_transfer
adds a single ln s. Classification only; scale-dependent below the 1e-4 variance floor.
"""

from __future__ import annotations

import numpy as np

from .._options import Option
from ._inputs import check_rows, class_ids, class_means, feature_matrix

#: Variance floor of the reference implementation (constant features would give 0).
VARIANCE_FLOOR = 1e-4


class GaussianType(Option):
    SPHERICAL = "spherical"
    DIAGONAL = "diagonal"


def gbc(features: np.ndarray, labels: np.ndarray, *, regression: bool = False,
        pca_dim: int | None = 64, gaussian: GaussianType | str = GaussianType.SPHERICAL
        ) -> float:
    """GBC of ``features`` for class ``labels`` (≤ 0, higher = classes overlap less).

    Shapes: features (N, D), labels (N,) -> float. ``pca_dim=None`` skips the PCA.
    Classification only.
    """
    from sklearn.decomposition import PCA

    check_rows(features, labels)
    ids, classes = class_ids(labels, score="gbc", regression=regression)
    kind = GaussianType.parse(gaussian)
    x = feature_matrix(features)
    if pca_dim is not None and pca_dim < x.shape[1]:  # scikit-learn's PCA, as the reference
        x = PCA(n_components=min(pca_dim, *x.shape), svd_solver="full").fit_transform(x)
    means, counts = class_means(x, ids, classes)
    variances = np.zeros_like(means)
    np.add.at(variances, ids, (x - means[ids]) ** 2)
    variances = np.maximum(variances / counts[:, None], VARIANCE_FLOOR)  # (C, d)
    if kind is GaussianType.SPHERICAL:
        variances = np.repeat(variances.mean(1, keepdims=True), x.shape[1], axis=1)
    avg = (variances[:, None, :] + variances[None, :, :]) / 2.0  # (C, C, d)
    gap = means[:, None, :] - means[None, :, :]
    logs = np.log(variances)
    distance = (gap**2 / avg).sum(-1) / 8.0 + 0.5 * (
        np.log(avg).sum(-1) - 0.5 * logs.sum(1)[:, None] - 0.5 * logs.sum(1)[None, :])
    coefficient = np.exp(-distance)
    np.fill_diagonal(coefficient, 0.0)
    return float(-coefficient.sum())
