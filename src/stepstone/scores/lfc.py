"""LFC: centred kernel alignment between the features and the labels (Deshpande et al. 2021).

With linear feature kernel K_F = FFᵀ and the ±1 label kernel (K_Y,ij = +1 for the same class,
−1 otherwise), both double-centred (K̃ = HKH, H = I − 11ᵀ/N),

    LFC = ⟨K̃_F, K̃_Y⟩_F / (‖K̃_F‖_F ‖K̃_Y‖_F) = ‖Y₀ᵀF₀‖²_F / (‖F₀ᵀF₀‖_F ‖Y₀ᵀY₀‖_F)

with F₀, Y₀ the column-centred features and one-hot labels (the ±1 kernel is 2YYᵀ − 11ᵀ, and
double centring removes the 11ᵀ). The right-hand side costs O(N·D·(D + C)) instead of the
O(N²·D) of the kernels; tests check it against the explicit N × N alignment. Regression targets
use the linear label kernel yyᵀ (linear CKA). Frobenius norms throughout (one reference copy
used the spectral norm, a bug). In [−1, 1]; higher = features aligned with the labels.
"""

from __future__ import annotations

import numpy as np

from ._inputs import check_rows, class_ids, feature_matrix, one_hot, regression_columns


def lfc(features: np.ndarray, labels: np.ndarray, *, regression: bool = False) -> float:
    """Feature-label centred kernel alignment. Shapes: features (N, D), labels (N,) class ids
    or (N,)/(N, K) regression targets -> float in [−1, 1] (0 for constant features/labels)."""
    check_rows(features, labels)
    f = feature_matrix(features)
    if regression:
        y = regression_columns(labels, len(f))
    else:
        ids, classes = class_ids(labels, score="lfc", takes_regression=True)
        y = one_hot(ids, classes)
    f0, y0 = f - f.mean(0), y - y.mean(0)
    denom = float(np.linalg.norm(f0.T @ f0) * np.linalg.norm(y0.T @ y0))
    if denom <= 0.0:
        return 0.0
    return float(np.sum((y0.T @ f0) ** 2) / denom)
