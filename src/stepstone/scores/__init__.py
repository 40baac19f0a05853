"""Transferability scores: pure functions over arrays (float64 inside, shapes in docstrings).

scikit-learn is imported inside the functions that use it: importing it takes ~0.7 s, which a
cold `stepstone rank` with the default method never needs (tests/scores/test_imports.py).
"""

from .divergence import GaussianFit, fit_gaussian, frechet_distance
from .esm_logme import (ESMLogMEScorer, ScoreBackend, TargetStats, esm_logme,
                        esm_logme_fast)
from .etran import etran, etran_terms
from .gbc import gbc
from .hscore import hscore, ledoit_wolf_shrinkage, shrinkage_hscore
from .knn import knn
from .leep import leep, nce
from .lfc import lfc
from .logme import evidence, label_matrix, logme, spectrum
from .ncti import ncti, ncti_terms
from .nleep import nleep
from .parc import parc
from .ped import ped
from .registry import SCORES, ScoreInfo, feature_scores, get_score
from .ridge import ridge_probe
from .sfda import sfda
from .tmi import tmi
from .transrate import transrate

__all__ = ["GaussianFit", "etran", "etran_terms", "fit_gaussian", "frechet_distance", "lfc",
           "ncti", "ncti_terms", "parc", "ped", "tmi",
           "ESMLogMEScorer", "SCORES", "ScoreBackend", "ScoreInfo", "TargetStats", "esm_logme",
           "esm_logme_fast", "evidence", "feature_scores", "gbc", "get_score", "hscore", "knn",
           "label_matrix", "ledoit_wolf_shrinkage", "leep", "logme", "nce", "nleep", "ridge_probe",
           "sfda", "shrinkage_hscore", "spectrum", "transrate"]
