"""Transferability scores: pure functions over arrays (float64 inside, shapes in docstrings)."""

from .engine import ESMLogMEScorer, ScoreBackend
from .esm_logme import TargetStats, esm_logme
from .esm_logme_fast import esm_logme_fast
from .logme import evidence, label_matrix, logme, spectrum

__all__ = ["ESMLogMEScorer", "ScoreBackend", "TargetStats", "esm_logme", "esm_logme_fast",
           "evidence", "label_matrix", "logme", "spectrum"]
