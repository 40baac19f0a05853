"""Fast ESM-LogME on CPU: a tridiagonal reduction per ESM instead of a full eigendecomposition.

Per ESM A (D+1 x D'), with R the target's triangular factor (RᵀR = F_augᵀF_aug):

    M = R A                       (trmm, half the flops of a general product)
    G' = MᵀM = Q T Qᵀ             (syrk, then LAPACK dsytrd: Householder tridiagonal reduction)
    c = Qᵀ AᵀZ                    (dormqr: the reflectors applied to the K label columns)

and the fixed point runs on (T, c) with O(D) recurrences (``tridiagonal.py``). The eigenvectors
that ``eigh`` would compute (two thirds of its cost) are never needed. The BLAS/LAPACK calls go
through ctypes (``_lapack``), which releases the GIL (through scipy's wrappers threads ran one
at a time), so threads score ESMs in parallel (``engine.py``). Lanes whose T + tI is not
numerically positive definite (t at round-off level) are recomputed with the eigen-solver path.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ...errors import ScoreError
from .reference import TargetStats, esm_logme
from ._lapack import Routines, ScipyRoutines, routines
from .tridiagonal import tridiagonal_evidence

#: dsytrd panel width: 8-16 measured ~10% faster than LAPACK's default 32 at D = 384
_PANEL = 16


@dataclass(frozen=True)
class Tridiagonal:
    """Tridiagonal forms T_b = Q_bᵀ G'_b Q_b of a block of mapped Grams.

    Shapes: diag (B, D'), off (B, D'-1), proj (B, D', K) = Q_bᵀ A_bᵀ Z.
    """

    diag: np.ndarray
    off: np.ndarray
    proj: np.ndarray

    def __len__(self) -> int:
        return len(self.diag)

    @classmethod
    def concat(cls, parts: list[Tridiagonal]) -> Tridiagonal:
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in
                     ("diag", "off", "proj")))


def tridiagonalize(stats: TargetStats, maps: np.ndarray, *,
                   lib: Routines | ScipyRoutines | None = None) -> Tridiagonal:
    """Reduce the mapped Gram of each ESM to tridiagonal form (one LAPACK chain per ESM).

    Shapes: maps (B, D+1, D') in any float dtype (converted per ESM) -> Tridiagonal.
    ``lib``: the routines to call; default numpy's OpenBLAS through ctypes (GIL-free) when it
    is found, else scipy's wrappers. Both give the same numbers.
    """
    _check_maps(stats, maps)
    lib = lib or routines() or ScipyRoutines()
    batch, _, d_out = maps.shape
    k = stats.cross.shape[1]
    factor = np.asfortranarray(stats.factor, dtype=np.float64)
    diag, off = np.empty((batch, d_out)), np.empty((batch, max(d_out - 1, 0)))
    proj = np.empty((batch, d_out, k))
    gram = np.zeros((d_out, d_out), order="F")
    tau, work = np.empty(max(d_out - 1, 1)), np.empty(_sytrd_lwork(d_out))
    work_q = np.empty(max(1, 64 * k))
    for b in range(batch):
        a = np.array(maps[b], dtype=np.float64, order="C")  # a copy: trmm overwrites it
        with np.errstate(invalid="ignore", over="ignore"):  # a corrupt map just scores NaN
            cross = a.T @ stats.cross  # (D', K)
        mt = a.T  # Fortran-ordered (D', D+1) view of the copy: becomes Mᵀ = Aᵀ Rᵀ in place
        lib.trmm_right_upper_t(factor, mt)
        lib.syrk_lower(mt, gram)  # lower triangle of MᵀM, what dsytrd reads
        info = lib.sytrd_lower(gram, diag[b], off[b], tau, work)
        if info != 0:
            raise ScoreError(f"LAPACK dsytrd failed (info={info}) on ESM {b} of the block")
        proj[b, 0] = cross[0]
        if d_out > 1:  # Q = H_1 ... H_{D'-1} acts on rows 2..D' like a QR factor of size D'-1
            rest = np.asfortranarray(cross[1:])
            lib.ormqr_left_t(gram, tau[:d_out - 1], rest, work_q)
            proj[b, 1:] = rest
    return Tridiagonal(diag, off, proj)


@lru_cache(maxsize=8)
def _sytrd_lwork(dim: int) -> int:
    return max(1, dim * _PANEL)


def tridiagonal_esm_logme(stats: TargetStats, tri: Tridiagonal, maps: np.ndarray) -> np.ndarray:
    """Scores (B,) from the tridiagonal forms; ``maps`` are only read for ESMs whose fixed
    point reaches a t at round-off level of T, which are recomputed by the eigen-solver path."""
    ev = tridiagonal_evidence(tri.diag, tri.off, tri.proj, stats.y_sq, n=stats.n)
    scores = ev.mean(-1)
    redo = np.flatnonzero(np.isnan(ev).any(-1))
    if len(redo):
        again = np.asarray(maps[redo], dtype=np.float64)
        finite = np.isfinite(again).all(axis=(1, 2))  # a corrupt map stays NaN (reported)
        scores[redo[finite]] = esm_logme(stats, again[finite])
    return scores


def esm_logme_fast(stats: TargetStats, maps: np.ndarray) -> np.ndarray:
    """ESM-LogME of a block of linear ESMs, equal to :func:`esm_logme` to round-off.

    Shapes: maps (B, D+1, D') stacked A = [Wᵀ; bᵀ] -> scores (B,).
    """
    return tridiagonal_esm_logme(stats, tridiagonalize(stats, maps), maps)


def _check_maps(stats: TargetStats, maps: np.ndarray) -> None:
    if maps.ndim != 3 or maps.shape[1] != stats.gram.shape[0]:
        raise ScoreError(f"maps must be (B, {stats.gram.shape[0]}, D'), got {maps.shape}")
