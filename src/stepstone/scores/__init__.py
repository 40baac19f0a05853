"""Transferability scores: pure functions over arrays (float64 inside, shapes in docstrings)."""

from .esm_logme import TargetStats, esm_logme
from .logme import evidence, label_matrix, logme, spectrum

__all__ = ["TargetStats", "esm_logme", "evidence", "label_matrix", "logme", "spectrum"]
