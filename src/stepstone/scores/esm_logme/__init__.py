"""ESM-LogME: LogME of a target mapped through many ESMs, without forming the mapped features.

- ``reference``: the target's sufficient statistics (:class:`TargetStats`) and the reference
  route (full eigendecompositions);
- ``fast`` + ``tridiagonal``: the CPU route, one tridiagonal reduction per ESM, through the
  BLAS/LAPACK bindings of ``_blas`` and ``_lapack``;
- ``torch_route``: batched eigen-solves with torch, for CUDA;
- ``scorer``: :class:`ESMLogMEScorer`, which picks a route and scores blocks of ESMs.
"""

from .fast import esm_logme_fast
from .reference import TargetStats, esm_logme, spectral_esm_logme
from .scorer import ESMLogMEScorer, ScoreBackend

__all__ = ["ESMLogMEScorer", "ScoreBackend", "TargetStats", "esm_logme", "esm_logme_fast",
           "spectral_esm_logme"]
