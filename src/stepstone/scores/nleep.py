"""NLEEP ("Ranking Neural Checkpoints", Li et al., CVPR 2021): LEEP with the source head
replaced by a Gaussian mixture fitted on the target features.

Features are reduced by PCA to the fewest components explaining 80 % of the variance, a
full-covariance mixture with 5·C components is fitted (k-means start, seed 123 as in
google-research's stable_transfer), and its posteriors play the role of the source-head
softmax in LEEP. The log is kept (TencentARC/SFDA's copy drops it). PCA and mixture are
scikit-learn's (``PCA(n_components=0.8)``, ``GaussianMixture``), as in the reference code. Two
deviations from scikit-learn's defaults keep it from failing: the PCA coordinates are divided by their RMS
(a global scale, which the mixture ignores) so that the covariance regulariser 1e-6 is relative
(an absolute 1e-6 makes the covariances of components with fewer than d points singular once
features are large), and the mixture has at most N components (scikit-learn refuses more).
Classification only; the slowest of the scores.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..errors import ScoreError
from ._inputs import check_rows, class_ids, feature_matrix
from .leep import leep


def reduce_by_pca(x: np.ndarray, variance: float) -> np.ndarray:
    """scikit-learn's PCA to the fewest components explaining more than ``variance`` of it;
    constant data gives one all-zero column. Shapes: (N, D) -> (N, k)."""
    from sklearn.decomposition import PCA  # imported here: a ranking by esm-logme never needs it

    if len(x) < 2 or not np.any(x != x[0]):
        return np.zeros((len(x), 1))
    return PCA(n_components=variance, svd_solver="full").fit_transform(x)


def nleep(features: np.ndarray, labels: np.ndarray, *, regression: bool = False,
          variance: float = 0.8, components_per_class: int = 5, seed: int = 123,
          max_iter: int = 100) -> float:
    """NLEEP of ``features`` for class ``labels`` (≤ 0, higher = better).

    Shapes: features (N, D), labels (N,) -> float. Classification only.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    check_rows(features, labels)
    ids, classes = class_ids(labels, score="nleep", regression=regression)
    x = reduce_by_pca(feature_matrix(features), variance)
    rms = float(np.sqrt(np.mean(x**2)))
    x = x / rms if rms > 0 else x
    components = min(components_per_class * classes, len(x))
    mixture = GaussianMixture(components, covariance_type="full", reg_covar=1e-6, tol=1e-3,
                              max_iter=max_iter, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # duplicated points, max_iter
        try:
            posteriors = mixture.fit(x).predict_proba(x)
        except ValueError as err:  # an ill-defined covariance
            raise ScoreError(f"nleep: the Gaussian mixture cannot be fitted ({err})") from err
    return leep(posteriors, ids)
