"""Naive reference implementations, written straight from the formulas.

LogME here uses explicit D x D matrices: A = αI + βFᵀF, its inverse and its log-determinant
(slogdet), with no eigendecomposition, no rank truncation and no Gram tricks. It follows the
reference fixed-point schedule (α = β = 1 start, at most 50 updates, stop when the relative
change of α/β is ≤ 1e-3, evidence with the updated α, β and the last m), so its value must match
stepstone's fast path to round-off.
"""

from __future__ import annotations

import numpy as np


def naive_evidence(f: np.ndarray, y: np.ndarray, *, max_iter: int = 50, tol: float = 1e-3) -> float:
    n, d = f.shape
    ftf = f.T @ f
    fty = f.T @ y
    alpha, beta = 1.0, 1.0
    for _ in range(max_iter):
        a_inv = np.linalg.inv(alpha * np.eye(d) + beta * ftf)
        m = beta * a_inv @ fty
        gamma = d - alpha * np.trace(a_inv)  # = Σ σ_i / (σ_i + α/β)
        m2 = float(m @ m)
        res2 = float(((f @ m - y) ** 2).sum())
        t = alpha / beta
        alpha, beta = gamma / (m2 + 1e-5), (n - gamma) / (res2 + 1e-5)
        if abs(alpha / beta - t) / t <= tol:
            break
    _, logdet = np.linalg.slogdet(alpha * np.eye(d) + beta * ftf)
    ev = (d / 2 * np.log(alpha) + n / 2 * np.log(beta) - 0.5 * logdet - beta / 2 * res2
          - alpha / 2 * m2 - n / 2 * np.log(2 * np.pi))
    return ev / n


def naive_logme(features: np.ndarray, labels: np.ndarray, *, regression: bool = False) -> float:
    f = np.asarray(features, dtype=np.float64)
    if regression:
        y = np.asarray(labels, dtype=np.float64).reshape(len(f), -1)
        columns = [y[:, k] for k in range(y.shape[1])]
    else:
        columns = [(labels == c).astype(np.float64) for c in np.unique(labels)]
    return float(np.mean([naive_evidence(f, col) for col in columns]))
