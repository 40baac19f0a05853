"""LogME from a tridiagonal form of FᵀF: no eigenvectors, O(D) per fixed-point step.

With FᵀF = Q T Qᵀ (T symmetric tridiagonal, Q orthogonal) and c = QᵀFᵀy, every quantity of the
fixed point is a function of T + tI (t = α/β), which is factored in O(D) as L·diag(p)·Lᵀ:

    m = (FᵀF + tI)⁻¹Fᵀy   ->  x = Qᵀm solves (T + tI) x = c      ‖m‖² = ‖x‖²
    yᵀFm = cᵀx,  mᵀFᵀFm = cᵀx − t‖x‖²   ->  ‖y − Fm‖² = ‖y‖² − cᵀx − t‖x‖²
    γ = Σσ/(σ+t) = D − t·tr((T + tI)⁻¹)      log det(T + tI) = Σ log p_i

The diagonal of (T + tI)⁻¹ comes from the pivots of the top-down and the bottom-up
factorisations (1 / (p_i + q_i − (T_ii + t))). Zero eigenvalues need no special care: they are in T
like the others, so log det includes the (D − k)·log α term of rank-deficient features, exactly as
the naive evidence with an explicit D x D log-determinant.

The recurrences run over D steps, vectorised over "lanes" (one lane per ESM and target column),
so their Python cost is shared by all lanes of a block.
"""

from __future__ import annotations

import numpy as np

from .logme import MAX_ITER, TOL, log_evidence, maximize_evidence


def tridiagonal_evidence(diag: np.ndarray, off: np.ndarray, proj: np.ndarray, y_sq: np.ndarray,
                         *, n: int, max_iter: int = MAX_ITER, tol: float = TOL) -> np.ndarray:
    """Maximum log evidence per sample of each target column, for a batch of tridiagonal forms.

    Shapes: diag (B, D), off (B, D-1), proj (B, D, K) = QᵀFᵀY, y_sq (K,) -> (B, K).
    A lane whose T + tI is not numerically positive definite (t below round-off of T) gets NaN;
    callers recompute those with an eigen-solver.
    """
    batch, dim = diag.shape
    k = proj.shape[2]
    lanes = _Lanes(np.repeat(diag.T, k, axis=1), np.repeat(off.T, k, axis=1),
                   proj.transpose(1, 0, 2).reshape(dim, batch * k), np.tile(y_sq, batch))
    alpha, beta, m2, res2 = maximize_evidence(lanes.moments, (batch * k,), n=n,
                                              max_iter=max_iter, tol=tol)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_det = dim * np.log(beta) + lanes.log_det(alpha / beta)
        ev = log_evidence(alpha, beta, m2, res2, log_det, n=n, d=dim)
    ev[lanes.failed] = np.nan
    return ev.reshape(batch, k)


class _Lanes:
    """Tridiagonal systems side by side: column j of every (D, L) array is one lane."""

    def __init__(self, diag: np.ndarray, off: np.ndarray, proj: np.ndarray,
                 y_sq: np.ndarray) -> None:
        self.diag, self.off, self.proj, self.y_sq = diag, off, proj, y_sq
        self.off2 = off * off
        self.failed = np.zeros(diag.shape[1], dtype=bool)

    def moments(self, t: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, ...]:
        """γ, ‖m‖², ‖y − Fm‖² at t for the active lanes (zeros elsewhere)."""
        idx = np.flatnonzero(active & ~self.failed)
        gamma, m2, res2 = (np.zeros(len(t)) for _ in range(3))
        if len(idx) == 0:
            return gamma, m2, res2
        whole = len(idx) == len(t)
        diag, off, off2, proj = (a if whole else a[:, idx]
                                 for a in (self.diag, self.off, self.off2, self.proj))
        t_act = t[idx]
        shifted = diag + t_act
        down, up = _pivots(shifted, off2)
        ok = (down > 0).all(0) & (up > 0).all(0)
        self.failed[idx[~ok]] = True
        with np.errstate(divide="ignore", invalid="ignore"):
            x = _solve(down, off, proj)
            trace_inv = (1.0 / (down + up - shifted)).sum(0)
            cx = (proj * x).sum(0)
            xx = (x * x).sum(0)
        gamma[idx] = diag.shape[0] - t_act * trace_inv
        m2[idx] = xx
        res2[idx] = self.y_sq[idx] - cx - t_act * xx
        return gamma, m2, res2

    def log_det(self, t: np.ndarray) -> np.ndarray:
        """log det(T + tI) per lane (NaN where T + tI is not positive definite)."""
        down, _ = _pivots(self.diag + t, self.off2, both=False)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where((down > 0).all(0), np.log(np.abs(down)).sum(0), np.nan)


def _pivots(shifted: np.ndarray, off2: np.ndarray, *, both: bool = True
            ) -> tuple[np.ndarray, np.ndarray | None]:
    """Pivots of T + tI factored top-down (p) and bottom-up (q); shapes (D, L).

    Both obey r_new = (T_ii + t) − e² / r_old, so they run as one recurrence over a stacked
    (2, L) state: one pass of D steps with two array operations each.
    """
    dim, lanes = shifted.shape
    if not both:
        down = np.empty_like(shifted)
        down[0] = shifted[0]
        step = np.empty(lanes)
        with np.errstate(divide="ignore", invalid="ignore"):
            for i in range(1, dim):
                np.divide(off2[i - 1], down[i - 1], out=step)
                np.subtract(shifted[i], step, out=down[i])
        return down, None
    rhs = np.stack([shifted, shifted[::-1]], axis=1)  # (D, 2, L): row i, and row D-1-i
    coupling = np.stack([off2, off2[::-1]], axis=1)  # (D-1, 2, L)
    state = np.empty_like(rhs)
    state[0] = rhs[0]
    step = np.empty((2, lanes))
    with np.errstate(divide="ignore", invalid="ignore"):
        for i in range(1, dim):
            np.divide(coupling[i - 1], state[i - 1], out=step)
            np.subtract(rhs[i], step, out=state[i])
    return state[:, 0], state[::-1, 1]


def _solve(down: np.ndarray, off: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve (T + tI) x = rhs per lane from the top-down pivots: L z = rhs, then diag(p)Lᵀx = z.

    Shapes: down (D, L), off (D-1, L), rhs (D, L) -> x (D, L).
    """
    dim = down.shape[0]
    ratio = off / down[:-1]  # L's subdiagonal: e_i / p_i
    z = np.empty_like(rhs)
    z[0] = rhs[0]
    tmp = np.empty(rhs.shape[1])
    for i in range(1, dim):
        np.multiply(ratio[i - 1], z[i - 1], out=tmp)
        np.subtract(rhs[i], tmp, out=z[i])
    z /= down  # now z_i / p_i; back-substitute x_i = z_i/p_i − (e_i/p_i)·x_{i+1}
    x = z
    for i in range(dim - 2, -1, -1):
        np.multiply(ratio[i], x[i + 1], out=tmp)
        np.subtract(x[i], tmp, out=x[i])
    return x
