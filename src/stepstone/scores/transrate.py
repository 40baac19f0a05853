"""TransRate (Huang et al., ICML 2022): the coding rate of the features minus their coding rate
given the class.

    R(Z, ε) = ½ log det(I_D + ZᵀZ / (n ε))            (Z centred once, over all N)
    TransRate = R(Z, ε) − (1/C) Σ_c R(Z_c, ε)          ε = 1e-4

This is the widely copied form of the paper's appendix (thuml/Transfer-Learning-Library, Bai et
al.'s NLP benchmark); the authors' evaluation code differs (eigenvalue normalisation, n_c/N
weights, per-dataset ε). Each log-determinant comes from the eigenvalues of the smaller of ZᵀZ
and ZZᵀ (Sylvester's identity). Classification only; depends on ε and on the feature scale.
"""

from __future__ import annotations

import numpy as np

from ._inputs import check_rows, class_ids, feature_matrix


def coding_rate(z: np.ndarray, *, eps: float = 1e-4) -> float:
    """R(Z, ε) = ½ log det(I + ZᵀZ/(nε)). Shapes: z (n, D) -> float."""
    n, d = z.shape
    gram = z.T @ z if d <= n else z @ z.T
    eigvals = np.clip(np.linalg.eigvalsh(gram), 0.0, None)
    return float(0.5 * np.log1p(eigvals / (n * eps)).sum())


def transrate(features: np.ndarray, labels: np.ndarray, *, regression: bool = False,
              eps: float = 1e-4) -> float:
    """TransRate of ``features`` for class ``labels`` (higher = better).

    Shapes: features (N, D), labels (N,) -> float ≥ 0. Classification only.
    """
    check_rows(features, labels)
    ids, classes = class_ids(labels, score="transrate", regression=regression)
    z = feature_matrix(features)
    z = z - z.mean(0)
    per_class = [coding_rate(z[ids == c], eps=eps) for c in range(classes)]
    return coding_rate(z, eps=eps) - float(np.mean(per_class))
