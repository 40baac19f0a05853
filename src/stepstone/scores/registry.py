"""The scores by name, with what each needs and whether it takes regression targets.

Every feature score is called as ``func(features, labels, *, regression=...)``; every
probability score as ``func(probabilities, labels, *, regression=...)``. A score that does not
support regression raises :class:`~stepstone.errors.UnsupportedTargetError` (a
``ScoreError``) for a regression target.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .._options import did_you_mean
from ..errors import InvalidOptionError
from ._inputs import classification_only
from .etran import WEIGHTS as ETRAN_WEIGHTS
from .etran import etran, etran_terms
from .gbc import gbc
from .hscore import hscore, shrinkage_hscore
from .knn import knn
from .leep import leep, nce
from .lfc import lfc
from .logme import logme
from .ncti import WEIGHTS as NCTI_WEIGHTS
from .ncti import ncti, ncti_terms
from .nleep import nleep
from .parc import parc
from .ped import ped
from .ridge import ridge_probe
from .sfda import sfda
from .tmi import tmi
from .transrate import transrate


@dataclass(frozen=True)
class ScoreInfo:
    """A score: its function, its input ("features" or "probabilities"), regression support."""

    name: str
    func: Callable[..., float]
    inputs: str
    regression: bool
    summary: str
    #: unchanged by any invertible affine map of the features, so useless in ESM form (every
    #: invertible ESM gets the same score); "approximately" for SFDA's tiny shrinkage
    affine_invariant: bool = False
    #: for scores normalised over the candidate pool (ETran, NCTI): the per-candidate terms
    #: ``terms(data, labels, regression=...) -> {name: value}`` and the weights of their min-max
    #: normalised values (scores/pool.py); ``func`` is then the unnormalised single-model form
    terms: Callable[..., dict[str, float]] | None = None
    pool_weights: dict[str, float] = field(default_factory=dict)
    #: its ``esm-`` method is not the generic map-then-score one (LogME has a faster route
    #: through the Gram matrix, PED needs reference statistics)
    custom_esm: bool = False

    @property
    def pooled(self) -> bool:
        return self.terms is not None

    def __call__(self, data: np.ndarray, labels: np.ndarray, *, regression: bool = False
                 ) -> float:
        self.check_target(regression)
        return self.func(data, labels, regression=regression)

    def check_target(self, regression: bool) -> None:
        """Raise a clear error for a regression target when the score cannot take one."""
        if regression and not self.regression:
            raise classification_only(self.name)


SCORES: dict[str, ScoreInfo] = {info.name: info for info in [
    ScoreInfo("logme", logme, "features", True, "log maximum evidence of a Bayesian linear "
              "model", custom_esm=True),
    ScoreInfo("hscore", hscore, "features", False, "tr(Σ_f⁺Σ_g); saturates at C−1 for N ≤ D",
              affine_invariant=True),
    ScoreInfo("shrinkage-hscore", shrinkage_hscore, "features", False,
              "H-score with Ledoit-Wolf shrinkage; stable for N < D"),
    ScoreInfo("nleep", nleep, "features", False, "LEEP of a Gaussian mixture on PCA features"),
    ScoreInfo("gbc", gbc, "features", False, "Bhattacharyya overlap of per-class Gaussians"),
    ScoreInfo("transrate", transrate, "features", False, "coding rate minus class-conditional "
              "coding rate"),
    ScoreInfo("sfda", sfda, "features", False, "self-challenging Fisher discriminant accuracy",
              affine_invariant=True),
    ScoreInfo("knn", knn, "features", True, "leave-one-out kNN accuracy / Pearson r"),
    ScoreInfo("ridge", ridge_probe, "features", True, "cross-validated ridge probe accuracy "
              "/ R²"),
    ScoreInfo("etran", etran, "features", False, "energy + shrinkage-LDA terms, "
              "min-max normalised over the pool", terms=etran_terms,
              pool_weights=ETRAN_WEIGHTS),
    ScoreInfo("ncti", ncti, "features", False, "neural-collapse index: nuclear norms + "
              "LDA fit, min-max normalised over the pool", terms=ncti_terms,
              pool_weights=NCTI_WEIGHTS),
    ScoreInfo("ped", ped, "features", False, "LogME after potential-energy descent of the "
              "class means", custom_esm=True),
    ScoreInfo("tmi", tmi, "features", False, "intra-class Kozachenko-Leonenko entropy"),
    ScoreInfo("parc", parc, "features", True, "Spearman of feature and label dissimilarities "
              "on a 500-example probe"),
    ScoreInfo("lfc", lfc, "features", True, "centred feature-label kernel alignment"),
    ScoreInfo("leep", leep, "probabilities", False, "log expected empirical prediction of a "
              "source head"),
    ScoreInfo("nce", nce, "probabilities", False, "negative conditional entropy given the "
              "source head's predictions"),
]}


def get_score(name: str) -> ScoreInfo:
    key = name.strip().lower()
    if key not in SCORES:
        raise InvalidOptionError(f"unknown score {name!r}; choose one of {', '.join(SCORES)}."
                                 + did_you_mean(key, list(SCORES)))
    return SCORES[key]


def feature_scores() -> list[ScoreInfo]:
    return [info for info in SCORES.values() if info.inputs == "features"]
