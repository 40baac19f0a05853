"""LogME from a tridiagonal form of FᵀF: no eigenvectors, O(D) per fixed-point step.

With FᵀF = Q T Qᵀ (T symmetric tridiagonal, Q orthogonal) and c = QᵀFᵀy, every quantity of the
fixed point is a function of T + tI (t = α/β), which is factored in O(D) as L·diag(p)·Lᵀ:

    m = (FᵀF + tI)⁻¹Fᵀy   ->  x = Qᵀm solves (T + tI) x = c      ‖m‖² = ‖x‖²
    yᵀFm = cᵀx,  mᵀFᵀFm = cᵀx − t‖x‖²   ->  ‖y − Fm‖² = ‖y‖² − cᵀx − t‖x‖²
    γ = Σσ/(σ+t) = D − t·tr((T + tI)⁻¹)      log det(T + tI) = Σ log p_i

The trace of (T + tI)⁻¹ is the derivative of log det(T + tI) = Σ log p_i in t: Σ p_i'/p_i,
with p_i' = 1 + (e_{i-1}²/p_{i-1}²)·p_{i-1}' from differentiating the pivot recurrence (all
terms positive when T + tI is positive definite, so the sum has no cancellation). That
recurrence and the forward substitution of the solve run as one pass, and every division is
one reciprocal of the pivots (per lane and step: 2 divisions, where the top-down/bottom-up
formula for the diagonal of the inverse took 5). Zero eigenvalues
need no special care: they are in T like the others, so log det includes the (D − k)·log α term
of rank-deficient features, exactly as the naive evidence with an explicit D x D determinant.

The recurrences run over D steps, vectorised over "lanes" (one lane per ESM and target column),
so their Python cost is shared by all lanes of a block.
"""

from __future__ import annotations

import numpy as np

from ..logme import MAX_ITER, TOL, log_evidence, maximize_evidence


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
        self._diag, self._off, self._coupling, self._proj = diag, off, off * off, proj
        # the two first-order recurrences of a step run as one: [p'_i, z_i] (see moments)
        self._rhs = np.stack([np.ones_like(proj), proj], axis=1)  # (D, 2, L)
        self._pivots, self._inv = np.empty_like(diag), np.empty_like(diag)
        self._coef = np.empty((max(len(diag) - 1, 0), 2, diag.shape[1]))
        self._state = np.empty_like(self._rhs)
        return np.arange(len(want))

    def moments(self, t: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, ...]:
        """γ, ‖m‖², ‖y − Fm‖² at t for the active lanes (zeros elsewhere)."""
        want = np.flatnonzero(active & ~self.failed)
        gamma, m2, res2 = (np.zeros(len(t)) for _ in range(3))
        if len(want) == 0:
            return gamma, m2, res2
        pos = self._gather(want)
        t_act = t[self._idx]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            pivots = np.add(self._diag, t_act, out=self._pivots)
            _pivot_recurrence(pivots, self._coupling)  # T + tI = L diag(p) Lᵀ
            self.failed[want[~(pivots[:, pos].min(0) > 0)]] = True  # not positive definite
            inv = np.reciprocal(pivots, out=self._inv)
            # one pass gives p'_i = dp_i/dt = 1 + (e²/p²)_{i-1} p'_{i-1} and L z = c
            # (z_i = c_i − (e/p)_{i-1} z_{i-1}): tr((T + tI)⁻¹) = d/dt log det = Σ p'_i / p_i
            np.multiply(self._coupling, inv[:-1] ** 2, out=self._coef[:, 0])
            np.negative(self._coef[:, 0], out=self._coef[:, 0])
            np.multiply(self._off, inv[:-1], out=self._coef[:, 1])
            state = _linear_recurrence(self._rhs, self._coef, out=self._state)
            trace_inv = np.einsum("ij,ij->j", state[:, 0], inv)
            x = _back_substitute(state[:, 1], inv, self._coef[:, 1])
            cx = np.einsum("ij,ij->j", self._proj, x)
            xx = np.einsum("ij,ij->j", x, x)
        t_want = t_act[pos]
        gamma[want] = self.diag.shape[0] - t_want * trace_inv[pos]
        m2[want] = xx[pos]
        res2[want] = self.y_sq[want] - cx[pos] - t_want * xx[pos]
        return gamma, m2, res2

    def log_det(self, t: np.ndarray) -> np.ndarray:
        """log det(T + tI) per lane (NaN where T + tI is not positive definite)."""
        pivots = self.diag + t
        with np.errstate(divide="ignore", invalid="ignore"):
            _pivot_recurrence(pivots, self.off * self.off)
            return np.where(pivots.min(0) > 0, np.log(np.abs(pivots)).sum(0), np.nan)


def _pivot_recurrence(state: np.ndarray, coupling: np.ndarray) -> None:
    """In place: state[i] = state[i] − coupling[i-1] / state[i-1] (LDLᵀ pivots of T + tI when
    state starts as its shifted diagonal). Shapes: state (D, ...), coupling (D-1, ...)."""
    step = np.empty(state.shape[1:])
    for i in range(1, state.shape[0]):
        np.divide(coupling[i - 1], state[i - 1], out=step)
        np.subtract(state[i], step, out=state[i])


def _linear_recurrence(rhs: np.ndarray, coef: np.ndarray, *, out: np.ndarray) -> np.ndarray:
    """out[0] = rhs[0], out[i] = rhs[i] − coef[i-1]·out[i-1], elementwise over the trailing
    axes. Shapes: rhs (D, ...), coef (D-1, ...) -> out (D, ...)."""
    out[0] = rhs[0]
    tmp = np.empty(rhs.shape[1:])
    for i in range(1, rhs.shape[0]):
        np.multiply(coef[i - 1], out[i - 1], out=tmp)
        np.subtract(rhs[i], tmp, out=out[i])
    return out


def _back_substitute(z: np.ndarray, inv: np.ndarray, ratio: np.ndarray) -> np.ndarray:
    """In place: x = L⁻ᵀ diag(p)⁻¹ z, i.e. x_i = z_i/p_i − (e/p)_i·x_{i+1}, given ``inv`` = 1/p
    and ``ratio`` = e/p. Shapes: z, inv (D, L), ratio (D-1, L) -> x (D, L) (written to z)."""
    z *= inv
    tmp = np.empty(z.shape[1])
    for i in range(z.shape[0] - 2, -1, -1):
        np.multiply(ratio[i], z[i + 1], out=tmp)
        np.subtract(z[i], tmp, out=z[i])
    return z
