"""LogME from a tridiagonal form of FᵀF: no eigenvectors, O(D) per fixed-point step.

With FᵀF = Q T Qᵀ (T symmetric tridiagonal, Q orthogonal) and c = QᵀFᵀy, every quantity of the
fixed point is a function of T + tI (t = α/β), which is factored in O(D) as L·diag(p)·Lᵀ:

    m = (FᵀF + tI)⁻¹Fᵀy   ->  x = Qᵀm solves (T + tI) x = c      ‖m‖² = ‖x‖²
    yᵀFm = cᵀx,  mᵀFᵀFm = cᵀx − t‖x‖²   ->  ‖y − Fm‖² = ‖y‖² − cᵀx − t‖x‖²
    γ = Σσ/(σ+t) = D − t·tr((T + tI)⁻¹)      log det(T + tI) = Σ log p_i

The diagonal of (T + tI)⁻¹ comes from the pivots of the top-down and the bottom-up
factorisations (1 / (p_i + q_i − (T_ii + t))), which run as one recurrence. Zero eigenvalues
need no special care: they are in T like the others, so log det includes the (D − k)·log α term
of rank-deficient features, exactly as the naive evidence with an explicit D x D determinant.

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
    """Tridiagonal systems side by side: column j of every (D, L) array is one lane.

    The arrays of the active lanes are gathered again when half of the gathered ones have
    converged (lanes drop out as they converge), and every step writes into buffers reused
    across iterations.
    """

    def __init__(self, diag: np.ndarray, off: np.ndarray, proj: np.ndarray,
                 y_sq: np.ndarray) -> None:
        self.diag, self.off, self.proj, self.y_sq = diag, off, proj, y_sq
        self.failed = np.zeros(diag.shape[1], dtype=bool)
        self._idx: np.ndarray | None = None

    def _gather(self, want: np.ndarray) -> np.ndarray:
        """Make the working arrays hold (at least) the lanes ``want``; returns the positions of
        ``want`` among the working lanes. Gathering copies (D, L) arrays, which costs more than
        a step on them, so the working set only shrinks once it is at least half converged:
        the other steps compute a few finished lanes too (every operation is per lane, so a
        lane's numbers do not depend on which others are computed beside it)."""
        if self._idx is not None and 2 * len(want) > len(self._idx):
            return np.searchsorted(self._idx, want)
        self._idx = want
        whole = len(want) == self.diag.shape[1]
        diag, off, proj = (a if whole else a[:, want] for a in (self.diag, self.off, self.proj))
        # both pivot recurrences at once: row i holds step i of the top-down and of the
        # bottom-up factorisation
        self._diag2 = np.stack([diag, diag[::-1]], axis=1)  # (D, 2, L)
        off2 = off * off
        self._coupling = np.stack([off2, off2[::-1]], axis=1)  # (D-1, 2, L)
        self._off, self._proj = off, proj
        self._pivots = np.empty_like(self._diag2)
        self._x = np.empty_like(proj)
        self._work = np.empty_like(proj)
        return np.arange(len(want))

    def moments(self, t: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, ...]:
        """γ, ‖m‖², ‖y − Fm‖² at t for the active lanes (zeros elsewhere)."""
        want = np.flatnonzero(active & ~self.failed)
        gamma, m2, res2 = (np.zeros(len(t)) for _ in range(3))
        if len(want) == 0:
            return gamma, m2, res2
        pos = self._gather(want)
        t_act = t[self._idx]
        with np.errstate(divide="ignore", invalid="ignore"):
            shifted = np.add(self._diag2, t_act, out=self._pivots)  # becomes the pivots
            _pivot_recurrence(shifted, self._coupling)
            down, up = self._pivots[:, 0], self._pivots[::-1, 1]
            # by Sylvester's law of inertia a non-positive pivot on one side implies one on
            # the other: T + tI is not numerically positive definite
            self.failed[want[~(down[:, pos].min(0) > 0)]] = True
            x = _solve(down, self._off, self._proj, out=self._x, work=self._work)
            # diag((T + tI)⁻¹)_i = 1 / (p_i + q_i − (T_ii + t))
            inv = np.add(down, up, out=self._work)
            inv -= self._diag2[:, 0]
            inv -= t_act
            trace_inv = np.reciprocal(inv, out=inv).sum(0)
            cx = np.einsum("ij,ij->j", self._proj, x)
            xx = np.einsum("ij,ij->j", x, x)
        t_want = t_act[pos]
        gamma[want] = self.diag.shape[0] - t_want * trace_inv[pos]
        m2[want] = xx[pos]
        res2[want] = self.y_sq[want] - cx[pos] - t_want * xx[pos]
        return gamma, m2, res2

    def log_det(self, t: np.ndarray) -> np.ndarray:
        """log det(T + tI) per lane (NaN where T + tI is not positive definite)."""
        down = self.diag + t
        off2 = self.off * self.off
        step = np.empty(down.shape[1])
        with np.errstate(divide="ignore", invalid="ignore"):
            for i in range(1, down.shape[0]):
                np.divide(off2[i - 1], down[i - 1], out=step)
                down[i] -= step
            return np.where(down.min(0) > 0, np.log(np.abs(down)).sum(0), np.nan)


def _pivot_recurrence(state: np.ndarray, coupling: np.ndarray) -> None:
    """In place: state[i] = state[i] − coupling[i-1] / state[i-1] (LDLᵀ pivots of T + tI when
    state starts as its shifted diagonal). Shapes: state (D, ...), coupling (D-1, ...)."""
    step = np.empty(state.shape[1:])
    for i in range(1, state.shape[0]):
        np.divide(coupling[i - 1], state[i - 1], out=step)
        np.subtract(state[i], step, out=state[i])


def _solve(down: np.ndarray, off: np.ndarray, rhs: np.ndarray, *, out: np.ndarray,
           work: np.ndarray) -> np.ndarray:
    """Solve (T + tI) x = rhs per lane from the top-down pivots: L z = rhs, then diag(p)Lᵀx = z.

    Shapes: down (D, L), off (D-1, L), rhs (D, L) -> x (D, L), written to ``out``.
    """
    dim = down.shape[0]
    ratio = np.divide(off, down[:-1], out=work[:-1])  # L's subdiagonal: e_i / p_i
    z = out
    z[0] = rhs[0]
    tmp = np.empty(rhs.shape[1])
    for i in range(1, dim):
        np.multiply(ratio[i - 1], z[i - 1], out=tmp)
        np.subtract(rhs[i], tmp, out=z[i])
    z /= down  # now z_i / p_i; back-substitute x_i = z_i/p_i − (e_i/p_i)·x_{i+1}
    for i in range(dim - 2, -1, -1):
        np.multiply(ratio[i], z[i + 1], out=tmp)
        np.subtract(z[i], tmp, out=z[i])
    return z
