"""MS-LEEP (Agostinelli et al., CVPR 2022): LEEP of an ensemble of source heads.

Each source m gives the target example i its expected empirical prediction
EEP_m(i) = Σ_z P̂_m(y_i | z) Θ^m_iz (the quantity LEEP averages the log of); the ensemble S
averages them before the log:

    MS-LEEP(S) = (1/N) Σ_i log( (1/|S|) Σ_{m∈S} EEP_m(i) )

A single source gives its LEEP. Greedy forward selection adds, at each step, the source that
raises MS-LEEP(S) most (the paper's ensemble search); MS-LEEP is not submodular, so unlike the
coverage objective the greedy set carries no approximation guarantee.
"""

from __future__ import annotations

import numpy as np

from ..errors import ScoreError
from ._inputs import check_rows, class_ids, one_hot
from .leep import source_probabilities

TINY = np.finfo(np.float64).tiny


def expected_predictions(probabilities: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """EEP(i) of one source head. Shapes: probabilities (N, Cs), labels (N,) -> (N,) in (0, 1].
    """
    check_rows(probabilities, labels)
    ids, classes = class_ids(labels, score="ms-leep")
    theta = source_probabilities(probabilities)
    joint = one_hot(ids, classes).T @ theta / len(ids)
    marginal = joint.sum(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        conditional = np.where(marginal > 0, joint / marginal, 0.0)
    return np.einsum("iz,iz->i", theta, conditional[ids])


def ms_leep(expected: np.ndarray) -> float:
    """MS-LEEP of the ensemble whose EEP rows are given. Shapes: (|S|, N) -> float ≤ 0."""
    expected = np.atleast_2d(np.asarray(expected, dtype=np.float64))
    if expected.size == 0:
        raise ScoreError("ms-leep needs at least one source")
    return float(np.mean(np.log(np.maximum(expected.mean(0), TINY))))


def greedy_ms_leep(expected: np.ndarray, *, k: int) -> tuple[list[int], list[float]]:
    """Greedy ensemble of up to ``k`` sources and each pick's gain in MS-LEEP (the first pick's
    gain is its LEEP). Shapes: expected (M, N) -> (picks, gains)."""
    expected = np.asarray(expected, dtype=np.float64)
    picks: list[int] = []
    gains: list[float] = []
    value, total = 0.0, np.zeros(expected.shape[1])
    for _ in range(min(k, len(expected))):
        size = len(picks) + 1
        candidates = [i for i in range(len(expected)) if i not in picks]
        values = [np.mean(np.log(np.maximum((total + expected[i]) / size, TINY)))
                  for i in candidates]
        best = int(np.argmax(values))
        picks.append(candidates[best])
        gains.append(float(values[best] - value) if picks[1:] else float(values[best]))
        value, total = float(values[best]), total + expected[candidates[best]]
    return picks, gains
