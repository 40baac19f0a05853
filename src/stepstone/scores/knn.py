"""k-nearest-neighbour leave-one-out scores: a strong, assumption-free baseline.

Every example is predicted from its k nearest *other* examples: classification by majority
vote (a tie goes to the tied class with the nearest member), scored by accuracy; regression by
the neighbours' mean, scored by the Pearson correlation with the true values (mean over
columns; 0 when the predictions are constant). k = 3 and Euclidean distance as in
transformer-ranker (which reports micro-F1, i.e. accuracy, for multi-class but the positive-
class F1 for binary targets). Distance ties are broken by example order. Distances are computed
in blocks, so memory stays O(block·N).
"""

from __future__ import annotations

import numpy as np

from .._options import Option
from ..errors import ScoreError
from ._inputs import check_rows, class_ids, feature_matrix, regression_columns

class KnnMetric(Option):
    EUCLIDEAN = "euclidean"
    COSINE = "cosine"


def knn(features: np.ndarray, labels: np.ndarray, *, regression: bool = False, k: int = 3,
        metric: KnnMetric | str = KnnMetric.EUCLIDEAN) -> float:
    """Leave-one-out kNN accuracy (classification) or Pearson r (regression).

    Shapes: features (N, D), labels (N,) class ids or (N,)/(N, K) values -> float.
    """
    check_rows(features, labels)
    x = feature_matrix(features)
    if len(x) < 2:
        raise ScoreError("knn needs at least two examples")
    neighbours = nearest_neighbours(x, k=min(k, len(x) - 1), metric=KnnMetric.parse(metric))
    if regression:
        y = regression_columns(labels, len(x))
        predicted = y[neighbours].mean(1)  # (N, K)
        return float(np.mean([_pearson(y[:, j], predicted[:, j]) for j in range(y.shape[1])]))
    ids, classes = class_ids(labels, score="knn", takes_regression=True)
    return float(np.mean(_vote(ids[neighbours], classes) == ids))


def nearest_neighbours(x: np.ndarray, *, k: int, metric: KnnMetric) -> np.ndarray:
    """Indices of each row's k nearest other rows, nearest first, by scikit-learn's brute-force
    ``NearestNeighbors`` (queried without X, so a row is never its own neighbour).
    Shapes: (N, D) -> (N, k)."""
    from sklearn.neighbors import NearestNeighbors

    if metric is KnnMetric.COSINE:
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        x = np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)
    search = NearestNeighbors(n_neighbors=k, algorithm="brute", metric="euclidean")
    return search.fit(x).kneighbors(return_distance=False)


def _vote(neighbour_ids: np.ndarray, classes: int) -> np.ndarray:
    """Majority class per row; ties go to the tied class whose member comes first (nearest)."""
    counts = np.zeros((len(neighbour_ids), classes))
    for j in range(neighbour_ids.shape[1]):
        np.add.at(counts, (np.arange(len(neighbour_ids)), neighbour_ids[:, j]), 1.0)
    best = counts.max(1, keepdims=True)
    tied = counts == best
    k = neighbour_ids.shape[1]
    nearness = np.full(counts.shape, -1.0)  # per class: k - position of its nearest member
    for j in range(k - 1, -1, -1):  # nearer neighbours overwrite farther ones
        nearness[np.arange(len(neighbour_ids)), neighbour_ids[:, j]] = k - j
    return np.where(tied, nearness, -np.inf).argmax(1)


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    denom = np.sqrt((a**2).sum() * (b**2).sum())
    return float((a * b).sum() / denom) if denom > 0 else 0.0
