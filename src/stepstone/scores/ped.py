"""PED: Potential Energy Descent (Li et al., ICCV 2023), a re-shaping of the features before a
base score (LogME by default, or SFDA).

The features are standardised with a reference set's per-dimension mean and std; the class
means are pushed apart where two classes overlap: for classes i, j with radii R = √Σ_d var_d
and overlap o = nσ(R_i + R_j) − ‖μ_i − μ_j‖ > 0, class i moves by min(½·dt²·k·o, o) along
(μ_i − μ_j)/‖μ_i − μ_j‖ (and j the opposite way); every example moves with its class. Steps
repeat (at most 6) while a step's total displacement (sum of absolute class shifts) stays above
``exit_ratio`` × the first step's; then the standardisation is undone and the base score is
computed on the moved features. Defaults as lixiaotong97/PED: dt = 0.1, nσ = 0.6, k = 1,
exit ratio 0.5, std floored at 1e-3.

The reference standardises with the model's ImageNet-validation features. Text has no such set:
stepstone's ESM form uses the base-model embeddings of the hub's sources (their stored Gaussian
fits, ``stepstone hub add-domain-stats``) mapped through each ESM; without a reference the
target itself is used (the score then depends on the target alone, which :func:`ped` says).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..errors import ScoreError
from ._inputs import check_rows, class_ids, class_means, feature_matrix
from .logme import logme
from .sfda import sfda

STEPS = 6
TIME_STEP = 0.1
N_SIGMA = 0.6
CONSTANT = 1.0
EXIT_RATIO = 0.5
MIN_STD = 1e-3
BASES: dict[str, Callable[..., float]] = {"logme": logme, "sfda": sfda}


def class_shifts(z: np.ndarray, ids: np.ndarray, classes: int, *, time_step: float,
                 n_sigma: float, constant: float) -> np.ndarray:
    """One step's displacement of every class mean (C, D) in standardised space."""
    means, _ = class_means(z, ids, classes)
    sq_means, _ = class_means(z * z, ids, classes)
    radii = np.sqrt(np.clip(sq_means - means**2, 0, None).sum(1))
    shifts = np.zeros_like(means)
    for i in range(classes):
        for j in range(i + 1, classes):
            gap = means[i] - means[j]
            dist = float(np.linalg.norm(gap))
            overlap = n_sigma * (radii[i] + radii[j]) - dist
            if overlap <= 0 or dist == 0:
                continue
            move = min(0.5 * time_step**2 * constant * overlap, overlap) * gap / dist
            shifts[i] += move
            shifts[j] -= move
    return shifts


def descend(features: np.ndarray, labels: np.ndarray, *, reference_mean: np.ndarray | None = None,
            reference_std: np.ndarray | None = None, steps: int = STEPS,
            time_step: float = TIME_STEP, n_sigma: float = N_SIGMA, constant: float = CONSTANT,
            exit_ratio: float = EXIT_RATIO) -> np.ndarray:
    """The moved features (N, D). Shapes: features (N, D), labels (N,), reference (D,)."""
    check_rows(features, labels)
    ids, classes = class_ids(labels, score="ped")
    x = feature_matrix(features)
    mean = x.mean(0) if reference_mean is None else np.asarray(reference_mean, np.float64)
    std = x.std(0) if reference_std is None else np.asarray(reference_std, np.float64)
    if mean.shape != (x.shape[1],) or std.shape != (x.shape[1],):
        raise ScoreError(f"ped: reference statistics must have shape ({x.shape[1]},)")
    std = np.maximum(std, MIN_STD)
    z = (x - mean) / std
    first = None
    for _ in range(steps):
        shifts = class_shifts(z, ids, classes, time_step=time_step, n_sigma=n_sigma,
                              constant=constant)
        change = float(np.abs(shifts).sum())
        first = first if first is not None else (change if change > 0 else 1.0)
        if change / first <= exit_ratio:
            break
        z = z + shifts[ids]
    return z * std + mean


def ped(features: np.ndarray, labels: np.ndarray, *, regression: bool = False,
        base: str = "logme", reference_mean: np.ndarray | None = None,
        reference_std: np.ndarray | None = None) -> float:
    """The ``base`` score (logme or sfda) of the PED-moved features. Shapes: features (N, D),
    labels (N,) class ids, reference (D,) -> float. Classification only."""
    if base not in BASES:
        raise ScoreError(f"ped: unknown base score {base!r}; choose one of {', '.join(BASES)}")
    class_ids(labels, score="ped", regression=regression)
    moved = descend(features, labels, reference_mean=reference_mean,
                    reference_std=reference_std)
    return BASES[base](moved, labels)
