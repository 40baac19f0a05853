"""PARC: Pairwise Annotation Representation Comparison (Bolya et al., NeurIPS 2021).

On a probe set of at most 500 examples (a seeded sample, as the paper's probe sets):
PCA to 32 dimensions, column z-scores, RDM_F = 1 − corrcoef(rows of F) and RDM_Y = 1 −
corrcoef(rows of the one-hot labels); PARC = 100 · Spearman(upper triangles). Cost O(P²·d) for
a probe of P examples.

Deviations from dbolya/parc: the PCA is exact (one SVD; the reference's randomized solver with one
power iteration is an approximation, and P ≤ 500 makes the exact one cheap);
regression targets are accepted with RDM_Y = |y_i − y_j| (Euclidean distance of the z-scored
columns for several targets) instead of the reference's correlation of rows, which is undefined
for one column. No "plasticity" prior is added (it belongs to the paper's benchmark, not the
score). Row correlations change when a principal axis flips sign, so PARC depends on the PCA's
sign convention; here each axis's largest loading is positive, so the score is deterministic.
"""

from __future__ import annotations

import numpy as np

from ._inputs import check_rows, class_ids, feature_matrix, regression_columns

PROBE_SIZE = 500
COMPONENTS = 32


def representation_dissimilarity(x: np.ndarray) -> np.ndarray:
    """Condensed 1 − Pearson correlation between the rows of ``x`` (P, d) -> (P(P−1)/2,);
    a constant row correlates 0 with everything."""
    from scipy.spatial.distance import pdist

    return np.nan_to_num(pdist(x, "correlation"), nan=1.0)


def label_dissimilarity(ids: np.ndarray, classes: int) -> np.ndarray:
    """Condensed 1 − corrcoef of one-hot rows, exactly: 0 for the same class, 1 + 1/(C − 1)
    otherwise (floating-point noise in the computed correlations would break the ties of
    Spearman's ranks arbitrarily). Shapes: ids (P,) -> (P(P−1)/2,)."""
    from scipy.spatial.distance import pdist

    same = pdist(ids[:, None].astype(np.float64), "cityblock") == 0
    return np.where(same, 0.0, 1.0 + 1.0 / (classes - 1) if classes > 1 else 0.0)


def principal_components(x: np.ndarray, k: int) -> np.ndarray:
    """Scores on the top ``k`` principal axes (N, k), each axis signed so that its largest
    loading is positive."""
    centred = x - x.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    vt = vt[:k] * np.sign(vt[np.arange(k), np.abs(vt[:k]).argmax(1)])[:, None]
    return centred @ vt.T


def parc(features: np.ndarray, labels: np.ndarray, *, regression: bool = False,
         probe_size: int = PROBE_SIZE, components: int = COMPONENTS, seed: int = 0) -> float:
    """PARC of ``features`` for ``labels``. Shapes: features (N, D), labels (N,) class ids or
    (N,)/(N, K) regression targets -> float in [−100, 100] (0 when a side is constant)."""
    from scipy.spatial.distance import pdist
    from scipy.stats import spearmanr

    check_rows(features, labels)
    x = feature_matrix(features)
    if len(x) > probe_size:
        keep = np.sort(np.random.default_rng(seed).permutation(len(x))[:probe_size])
        x, labels = x[keep], np.asarray(labels)[keep]
    if regression:
        y = regression_columns(labels, len(x))
        y = (y - y.mean(0)) / np.where(y.std(0) > 0, y.std(0), 1.0)
        label_rdm = pdist(y, "euclidean")
    else:
        ids, classes = class_ids(labels, score="parc", takes_regression=True)
        label_rdm = label_dissimilarity(ids, classes)
    reduced = principal_components(x, min(components, *x.shape))
    std = reduced.std(0)
    reduced = (reduced - reduced.mean(0)) / np.where(std > 0, std, 1.0)
    feature_rdm = representation_dissimilarity(reduced)
    if np.ptp(feature_rdm) == 0 or np.ptp(label_rdm) == 0:
        return 0.0
    return float(100.0 * spearmanr(feature_rdm, label_rdm).statistic)
