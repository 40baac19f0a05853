"""Input checks shared by the scores: features as finite float64 matrices, labels as class ids
or regression columns, and a clear error when a classification-only score meets a regression
target."""

from __future__ import annotations

import numpy as np

from ..errors import ScoreError, UnsupportedTargetError


def feature_matrix(features: np.ndarray, n: int | None = None) -> np.ndarray:
    """Shapes: features (N, D) -> float64 (N, D); raises on NaN/inf or a row count ≠ ``n``."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or (n is not None and f.shape[0] != n):
        expected = f"(N, D) with N = {n}" if n is not None else "(N, D)"
        raise ScoreError(f"features must be {expected}, got shape {f.shape}")
    if not np.isfinite(f).all():
        raise ScoreError("features contain NaN or inf")
    return f


def classification_only(score: str) -> UnsupportedTargetError:
    """The error of a classification-only score given a regression target (one wording for
    the score functions and the registry's early check)."""
    return UnsupportedTargetError(
        f"{score} supports classification targets only, not regression targets; use logme, "
        "knn or ridge (or their esm- forms), textemb, vocab-overlap, size or random instead")


def class_ids(labels: np.ndarray, *, score: str, regression: bool = False,
              takes_regression: bool = False) -> tuple[np.ndarray, int]:
    """Class labels -> (ids 0..C-1 in order of the sorted distinct labels, C).

    Shapes: labels (N,) -> ids (N,) int64. Raises for regression targets (``regression=True``
    or non-integer float labels); ``takes_regression`` scores say to pass ``regression=True``.
    """
    y = np.asarray(labels)
    if regression or (y.dtype.kind == "f" and not np.all(np.mod(y, 1) == 0)):
        if takes_regression:
            raise ScoreError(f"{score}: the labels are not class ids (non-integer values); "
                             "pass regression=True for a regression target")
        raise classification_only(score)
    if y.ndim != 1:
        raise ScoreError(f"{score}: class labels must be one-dimensional, got shape {y.shape}")
    classes, ids = np.unique(y, return_inverse=True)
    return ids.astype(np.int64), len(classes)


def two_class_inputs(features: np.ndarray, labels: np.ndarray, *, score: str,
                     regression: bool = False) -> tuple[np.ndarray, np.ndarray, int]:
    """The checked inputs of a classification-only score that needs two or more classes.

    Shapes: features (N, D), labels (N,) -> (x float64 (N, D), ids int64 (N,), C).
    """
    check_rows(features, labels)
    ids, classes = class_ids(labels, score=score, regression=regression)
    if classes < 2:
        raise ScoreError(f"{score} needs at least two classes in the target")
    return feature_matrix(features), ids, classes


def regression_columns(labels: np.ndarray, n: int) -> np.ndarray:
    """Regression targets -> float64 (N, K); (N,) becomes one column."""
    y = np.asarray(labels, dtype=np.float64).reshape(n, -1)
    if not np.isfinite(y).all():
        raise ScoreError("regression labels contain NaN or inf")
    return y


def check_rows(features: np.ndarray, labels: np.ndarray) -> None:
    if len(features) != len(labels):
        raise ScoreError(f"{len(features)} feature rows but {len(labels)} labels")


def one_hot(ids: np.ndarray, classes: int) -> np.ndarray:
    """Shapes: ids (N,) -> (N, C) float64 indicators."""
    out = np.zeros((len(ids), classes))
    out[np.arange(len(ids)), ids] = 1.0
    return out


def class_means(x: np.ndarray, ids: np.ndarray, classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Shapes: x (N, D), ids (N,) -> (means (C, D), counts (C,))."""
    counts = np.bincount(ids, minlength=classes).astype(np.float64)
    sums = np.zeros((classes, x.shape[1]))
    np.add.at(sums, ids, x)
    return sums / counts[:, None], counts


def rank_tolerance(values: np.ndarray, n: int, d: int) -> float:
    """Eigenvalues at or below this are round-off: max(N, D)·eps·max|λ| (LAPACK's pinv rule)."""
    top = float(np.max(np.abs(values))) if values.size else 0.0
    return max(n, d) * np.finfo(np.float64).eps * top
