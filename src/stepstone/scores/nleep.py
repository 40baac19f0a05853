"""NLEEP ("Ranking Neural Checkpoints", Li et al., CVPR 2021): LEEP with the source head
replaced by a Gaussian mixture fitted on the target features.

Features are reduced by PCA to the fewest components explaining 80 % of the variance, a
full-covariance mixture with 5·C components is fitted (k-means start, seed 123 as in
google-research's stable_transfer), and its posteriors play the role of the source-head
softmax in LEEP. The log is kept (TencentARC/SFDA's copy drops it). Two deviations from
scikit-learn's defaults keep it from failing: the PCA coordinates are divided by their RMS
(a global scale, which the mixture ignores) so that the covariance regulariser 1e-6 is relative
(an absolute 1e-6 makes the covariances of components with fewer than d points singular once
features are large), and the mixture has at most N components (scikit-learn refuses more).
Classification only; the slowest of the scores.
"""

from __future__ import annotations

import numpy as np

from ._inputs import check_rows, class_ids, feature_matrix
from ._mixture import fit_gaussian_mixture, pca
from .leep import leep


def nleep(features: np.ndarray, labels: np.ndarray, *, regression: bool = False,
          variance: float = 0.8, components_per_class: int = 5, seed: int = 123,
          max_iter: int = 100) -> float:
    """NLEEP of ``features`` for class ``labels`` (≤ 0, higher = better).

    Shapes: features (N, D), labels (N,) -> float. Classification only.
    """
    check_rows(features, labels)
    ids, classes = class_ids(labels, score="nleep", regression=regression)
    x = pca(feature_matrix(features), variance=variance)
    rms = float(np.sqrt(np.mean(x**2)))
    x = x / rms if rms > 0 else x
    components = min(components_per_class * classes, len(x))
    mixture = fit_gaussian_mixture(x, components, seed=seed, max_iter=max_iter)
    return leep(mixture.posteriors(x), ids)
