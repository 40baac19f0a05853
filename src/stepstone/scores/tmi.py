"""TMI: intra-class feature entropy H(X | Y) (Xu & Kang, ICCV 2023), Kozachenko-Leonenko form.

Per class c with n_c examples, the k-nearest-neighbour entropy estimate with the max-norm
(unit-ball volume c_d = 1 for diameters) is

    h_c = −ψ(k) + ψ(n_c) + (d / n_c) Σ_i log(2 ρ_i)

with ρ_i the distance of x_i to its k-th neighbour in its class, clipped below at ``min_dist``
(1.0, as in snudatalab/TMI). Classes with at most one example contribute 0 and k shrinks to
n_c − 1 for smaller classes. TMI = (1/C) Σ_c p_c h_c (the reference's mean of prior-weighted
terms). Higher = more intra-class spread = better, as the paper reads it.

Deviation: the reference only centres the features, so with its fixed ``min_dist`` the score
depends on the feature scale; sentence embeddings have coordinates of ~0.05, every ρ_i would be
clipped and every model would score the same. Here each dimension is standardised over the
target (z-scores), which the paper's pitfall note asks for ("standardise consistently").
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma

from ._inputs import check_rows, class_ids, feature_matrix

NEIGHBOURS = 3
MIN_DIST = 1.0


def standardise(x: np.ndarray) -> np.ndarray:
    """Column z-scores (N, D); constant columns become 0."""
    std = x.std(0)
    return (x - x.mean(0)) / np.where(std > 0, std, 1.0)


def kl_entropy(x: np.ndarray, *, k: int = NEIGHBOURS, min_dist: float = MIN_DIST) -> float:
    """Kozachenko-Leonenko entropy estimate (max-norm) of the rows of ``x`` (n, d); 0 for n ≤ 1.
    """
    from sklearn.neighbors import NearestNeighbors

    n, d = x.shape
    if n <= 1:
        return 0.0
    k = min(k, n - 1)
    search = NearestNeighbors(n_neighbors=k + 1, metric="chebyshev", algorithm="brute")
    distances, _ = search.fit(x).kneighbors(x)  # column 0 is the point itself
    rho = np.maximum(distances[:, k], min_dist)
    return float(-digamma(k) + digamma(n) + d * np.mean(np.log(2.0 * rho)))


def tmi(features: np.ndarray, labels: np.ndarray, *, regression: bool = False,
        k: int = NEIGHBOURS, min_dist: float = MIN_DIST) -> float:
    """TMI of ``features`` for class ``labels``. Shapes: features (N, D), labels (N,) -> float.
    Classification only."""
    check_rows(features, labels)
    ids, classes = class_ids(labels, score="tmi", regression=regression)
    x = standardise(feature_matrix(features))
    total = 0.0
    for c in range(classes):
        members = x[ids == c]
        total += len(members) / len(x) * kl_entropy(members, k=k, min_dist=min_dist)
    return total / classes
