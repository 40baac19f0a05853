"""SFDA, Self-challenging Fisher Discriminant Analysis (Shao et al., ECCV 2022).

1. A regularised Fisher discriminant: within-class scatter S_w = Σ_c p_c Cov_c (biased),
   shrunk S_w' = (1 − λ)S_w + λ·(tr S_w / D)·I with λ = max(exp(−5·λ_max(S_w)), 1e-10);
   class scores x·coef_cᵀ − ½ μ_c·coef_cᵀ + log p_c, posteriors by softmax.
2. Self-challenge ("ConfMix"): with p̃ = softmax(p(y | x)) (a second, softening softmax), each
   x of class c moves towards the mean μ̄_{−c} of the other class means:
   x ← p̃_c(x)·x + (1 − p̃_c(x))·μ̄_{−c}.
3. Refit step 1 on the moved features with the same λ; SFDA = mean_i p(y_i | x_i) (no log).

The reference (TencentARC/SFDA ``metrics.py``) projects on *all* generalised eigenvectors W of
(S_b, S_w') and uses coef = M W Wᵀ; since Wᵀ S_w' W = I that is exactly M S_w'⁻¹, so the total
and between-class scatter drop out and one linear solve replaces the generalised
eigenproblem (tests check the identity). λ_max is exact here (the reference: three power
iterations). Classification only, at least two classes.
"""

from __future__ import annotations

import numpy as np

from ._inputs import class_means, two_class_inputs
from ._special import softmax_rows

#: Floor of the adaptive shrinkage (reference value).
MIN_SHRINKAGE = 1e-10


def sfda(features: np.ndarray, labels: np.ndarray, *, regression: bool = False) -> float:
    """SFDA of ``features`` for class ``labels`` (in (0, 1], higher = better).

    Shapes: features (N, D), labels (N,) -> float. Classification only.
    """
    x, ids, classes = two_class_inputs(features, labels, score="sfda",
                                       regression=regression)
    probs, shrinkage = fda_posteriors(x, ids, classes)
    soft = softmax_rows(probs, axis=1)
    means, _ = class_means(x, ids, classes)
    others = (means.sum(0)[None, :] - means) / (classes - 1)  # mean of the other class means
    confidence = soft[np.arange(len(x)), ids][:, None]
    mixed = confidence * x + (1.0 - confidence) * others[ids]
    probs, _ = fda_posteriors(mixed, ids, classes, shrinkage=shrinkage)
    return float(probs[np.arange(len(x)), ids].mean())


def fda_posteriors(x: np.ndarray, ids: np.ndarray, classes: int, *,
                   shrinkage: float | None = None) -> tuple[np.ndarray, float]:
    """Posteriors of the shrinkage Fisher discriminant and the shrinkage used.

    Shapes: x (N, D), ids (N,) -> (probabilities (N, C), λ).
    """
    n, d = x.shape
    means, counts = class_means(x, ids, classes)
    priors = counts / n
    centred = x - means[ids]
    within = (centred * priors[ids, None] / counts[ids, None]).T @ centred  # Σ_c p_c Cov_c
    if shrinkage is None:
        top = float(np.linalg.eigvalsh(within)[-1])
        shrinkage = max(float(np.exp(-5.0 * top)), MIN_SHRINKAGE)
    level = np.trace(within) / d
    if level <= 0.0:  # no within-class spread: fall back to the total spread
        level = float(np.var(x, axis=0).mean())
    if level <= 0.0:  # constant features: nothing separates the classes
        coef = np.zeros((classes, d))
    else:
        shrunk = (1.0 - shrinkage) * within
        shrunk.flat[:: d + 1] += shrinkage * level
        coef = np.linalg.solve(shrunk, means.T).T  # M S_w'⁻¹ (S_w' is symmetric)
    intercept = -0.5 * np.einsum("cd,cd->c", means, coef) + np.log(priors)
    return softmax_rows(x @ coef.T + intercept, axis=1), shrinkage
