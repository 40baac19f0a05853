"""LEEP (Nguyen et al., ICML 2020) and NCE (Tran et al., ICCV 2019): scores of a source
*classifier head* on the target, from its softmax probabilities Θ over the source classes.

    P̂(y, z) = (1/N) Σ_i Θ_iz·1[y_i = y],   P̂(y | z) = P̂(y, z) / Σ_y' P̂(y', z)
    LEEP = (1/N) Σ_i log Σ_z P̂(y_i | z)·Θ_iz                ≤ 0 (0 = perfect)
    NCE  = −H(Y | Z) with z_i = argmax_z Θ_iz               ≤ 0

Both need probabilities (a softmax), not logits, and class labels: no regression.
The LEEP of the LogME paper swapped the arguments and the SFDA/ETran copies drop the log;
this is the published definition.
"""

from __future__ import annotations

import numpy as np

from ..errors import ScoreError
from ._inputs import check_rows, class_ids, one_hot

#: Rows of Θ must sum to 1 within this tolerance (float32 softmax output passes).
_SUM_TOLERANCE = 1e-3


def source_probabilities(probabilities: np.ndarray) -> np.ndarray:
    """Check Θ is a row-stochastic (N, Cs) matrix; float64."""
    theta = np.asarray(probabilities, dtype=np.float64)
    if theta.ndim != 2:
        raise ScoreError(f"source probabilities must be (N, Cs), got shape {theta.shape}")
    if not np.isfinite(theta).all() or (theta < 0).any() or \
            np.abs(theta.sum(1) - 1.0).max(initial=0.0) > _SUM_TOLERANCE:
        raise ScoreError("source probabilities must be a softmax (non-negative rows summing to "
                         "1), not logits; apply a softmax first")
    return theta


def leep(probabilities: np.ndarray, labels: np.ndarray, *, regression: bool = False) -> float:
    """Log expected empirical prediction of a source head on the target.

    Shapes: probabilities (N, Cs) source-head softmax on the target inputs, labels (N,) target
    class ids -> float ≤ 0. Classification only.
    """
    check_rows(probabilities, labels)
    ids, classes = class_ids(labels, score="leep", regression=regression)
    theta = source_probabilities(probabilities)
    joint = one_hot(ids, classes).T @ theta / len(ids)  # P̂(y, z), (C, Cs)
    marginal = joint.sum(0)  # P̂(z)
    with np.errstate(divide="ignore", invalid="ignore"):
        conditional = np.where(marginal > 0, joint / marginal, 0.0)  # P̂(y | z)
    eep = np.einsum("iz,iz->i", theta, conditional[ids])
    # eep_i > 0 whenever row i of Θ is a distribution; the floor only guards float underflow
    return float(np.mean(np.log(np.maximum(eep, np.finfo(np.float64).tiny))))


def nce(probabilities: np.ndarray, labels: np.ndarray, *, regression: bool = False) -> float:
    """Negative conditional entropy −H(Y | Z) of the target labels given the source head's
    hard predictions z = argmax Θ (terms with P̂(y, z) = 0 contribute nothing).

    Shapes: probabilities (N, Cs), labels (N,) class ids -> float ≤ 0. Classification only.
    """
    check_rows(probabilities, labels)
    ids, classes = class_ids(labels, score="nce", regression=regression)
    theta = source_probabilities(probabilities)
    z = theta.argmax(1)
    joint = np.zeros((classes, theta.shape[1]))
    np.add.at(joint, (ids, z), 1.0)
    joint /= len(ids)
    marginal = joint.sum(0)
    present = joint > 0
    ratio = joint[present] / np.broadcast_to(marginal, joint.shape)[present]
    return float(np.sum(joint[present] * np.log(ratio)))
