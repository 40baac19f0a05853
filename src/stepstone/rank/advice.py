"""Advice from measured transfer: the expected gain of each ranked source, its 80 % prediction
interval, the probability that it beats no intermediate step, and one recommendation.

The model is fitted (:meth:`AdviceModel.fit`) by ``stepstone bench calibrate``
(:mod:`stepstone.bench.calibrate` gathers the cells) on a ground-truth grid and stored as JSON next to the hub it was fitted for (``calibration.json``),
with the grid and the cells it saw. It is linear in a few features known at ranking time
(:data:`FEATURES`), standardised; the intervals and probabilities come from its out-of-target
residuals (each target's cells predicted by a model that never saw that target), so they carry
the between-target uncertainty a new target has. Predicting is a dot product: no scikit-learn at
ranking time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..encode.models import canonical_model_name
from ..errors import AdviceError
from ..esm.block import StepstoneBlock
from ..esm.embedding import embedding_mismatch
from ..hub.catalog import HubEntry
from .methods.baselines import source_size
from .model_file import JsonModelFile
from .ranking import RankedSource

logger = logging.getLogger(__name__)

ADVICE_FILE = "calibration.json"
#: recommend a source only when it beats no intermediate step more likely than not
MIN_P_BETTER = 0.5


def worth_it(expected_gain: float, p_better: float) -> bool:
    """Recommend intermediate training: a positive expected gain that is also more likely than
    not (the gains are skewed: many small wins and a few large losses, so either alone can
    mislead)."""
    return expected_gain > 0 and p_better >= MIN_P_BETTER


@dataclass(frozen=True)
class FeatureInputs:
    """What the features are computed from, for the S ranked sources of one target."""

    scores: np.ndarray  # (S,) the method's scores
    reference: float  # the score of "no intermediate step"
    textemb: np.ndarray | None  # (S,) cosine of mean embeddings, or None when not needed
    fit_cosine: np.ndarray  # (S,) held-out ESM fit (NaN when unknown)
    source_rows: np.ndarray  # (S,) rows of each source dataset
    target_rows: int
    regression: bool


def _spread(x: FeatureInputs) -> float:
    sd = float(np.std(x.scores))
    return sd if sd > 0 else 1.0


#: feature name -> (inputs -> (S,) values). z-scores are within the ranked pool, so they mean
#: the same for any hub size; margin_z is the margin over the reference row in the same units.
FEATURES: dict[str, Callable[[FeatureInputs], np.ndarray]] = {
    "z_score": lambda x: (x.scores - x.scores.mean()) / _spread(x),
    "margin_z": lambda x: (x.scores - x.reference) / _spread(x),
    "textemb": lambda x: np.asarray(x.textemb, dtype=float),
    "fit_cosine": lambda x: x.fit_cosine,
    "log_source_size": lambda x: np.log10(np.maximum(x.source_rows, 1.0)),
    "log_target_size": lambda x: np.full(len(x.scores), math.log10(max(x.target_rows, 1))),
    "regression": lambda x: np.full(len(x.scores), float(x.regression)),
}
#: The default inputs: the method's own standing (z-score, margin over the reference row) and
#: what the target is (type, size). The per-source descriptors (textemb, fit_cosine,
#: log_source_size) made the leave-one-target-out advice worse on the reduced grid (README,
#: "Advice"); pass them to `bench calibrate --features` to try them on a larger grid.
DEFAULT_FEATURES = ("z_score", "margin_z", "regression", "log_target_size")


def feature_matrix(inputs: FeatureInputs, names: list[str] | tuple[str, ...]) -> np.ndarray:
    """(S, F) features in the order of ``names``; NaN (an unknown fit) becomes the column's
    training mean at prediction time, see :meth:`AdviceModel.predict`."""
    unknown = [n for n in names if n not in FEATURES]
    if unknown:
        raise AdviceError(f"unknown advice feature(s) {', '.join(unknown)}; choose from "
                          f"{', '.join(FEATURES)}")
    if not names:
        return np.empty((len(inputs.scores), 0))
    return np.column_stack([FEATURES[n](inputs) for n in names]).astype(np.float64)


def _fit_linear(x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """BayesianRidge on standardised features, in :func:`linear_gain`'s parameters; no
    features: the mean."""
    if not x.shape[1]:
        return {"mean": [], "scale": [], "coef": [], "intercept": float(np.mean(y))}
    from sklearn.linear_model import BayesianRidge
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(x)
    ridge = BayesianRidge().fit(scaler.transform(x), y)
    return {"mean": scaler.mean_.tolist(), "scale": scaler.scale_.tolist(),
            "coef": ridge.coef_.tolist(), "intercept": float(ridge.intercept_)}


def _fill_and_drop_constant(x: np.ndarray, features: list[str]
                            ) -> tuple[np.ndarray, list[str], list[str]]:
    """Unknown values become the column mean; columns constant in these cells are dropped."""
    x = x.copy()
    for j in range(x.shape[1]):
        bad = ~np.isfinite(x[:, j])
        if bad.any():
            x[bad, j] = np.nanmean(x[:, j]) if (~bad).any() else 0.0
    keep = [j for j in range(x.shape[1]) if np.ptp(x[:, j]) > 0]
    return (x[:, keep], [features[j] for j in keep],
            [features[j] for j in range(x.shape[1]) if j not in keep])


def esm_digest(entry: HubEntry) -> str:
    """A short identity of one ESM: its base model, creation time and fit (all in the config,
    so no file is read)."""
    block = StepstoneBlock.of(entry.config)
    key = [canonical_model_name(entry.base_model), block.created, block.fit_cosine]
    return hashlib.sha256(json.dumps(key).encode()).hexdigest()[:16]


def linear_gain(x: np.ndarray, *, mean: list[float], scale: list[float], coef: list[float],
                intercept: float) -> np.ndarray:
    """The advice model's point prediction, (S, F) -> (S,): a linear model on standardised
    features (no features: the intercept). The one formula used to fit (the out-of-target
    residuals of :meth:`AdviceModel.fit`) and to predict."""
    if not len(coef):
        return np.full(len(x), float(intercept))
    return ((np.asarray(x, dtype=np.float64) - np.asarray(mean)) / np.asarray(scale)) \
        @ np.asarray(coef) + intercept


@dataclass(frozen=True)
class FittedOn:
    """What a model that predicts gains was fitted on, for its recommendation and caveats."""

    grid: str | None
    cells: int
    targets: int
    target_rows: tuple[int, int]  # (0, 0) when unknown
    target_types: frozenset[str]  # empty when unknown
    features: list[str]


@dataclass
class AdviceModel(JsonModelFile):
    """A fitted advice model (see the module docstring); plain data, saved as JSON."""

    FORMAT: ClassVar[str] = "stepstone-advice"
    VERSION: ClassVar[int] = 1
    WHAT: ClassVar[str] = "advice model"
    MAKE_ONE: ClassVar[str] = "make one with `stepstone bench calibrate --grid GRID`"

    method: str
    features: list[str]
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float
    residuals: list[float]  # out-of-target residuals, points (true - predicted)
    base_model: str
    embedding: dict[str, Any]
    #: esm id -> :func:`esm_digest` of the hub's ESMs when the model was fitted
    esms: dict[str, str]
    grid: dict[str, Any]
    cells: list[dict[str, Any]]
    interval: float = 0.8
    dropped: list[str] = field(default_factory=list)  # constant in the training cells
    evaluation: dict[str, Any] = field(default_factory=dict)
    created: str = ""
    library_version: str = ""

    # --- fitting ------------------------------------------------------------------------------

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, groups: np.ndarray, features: Sequence[str], *,
            interval: float = 0.8, **meta: Any) -> AdviceModel:
        """Fit on measured cells: x (n, F) feature values in the order of ``features``, y (n,)
        gains in points, groups (n,) the target of each cell. The point model is scikit-learn's
        BayesianRidge on standardised features (its evidence maximisation sets the shrinkage,
        which matters with a few dozen cells); the residuals are leave-one-target-out ones, so
        the intervals include how much a new target differs. Features constant in these cells
        are dropped (listed in ``dropped``). ``meta``: the remaining fields (method, hub, grid);
        empty when left out, as for a model that is only evaluated."""
        if len(set(groups)) < 2:
            raise AdviceError(f"the advice needs measured cells of at least 2 targets (got "
                              f"{len(set(groups))}): its residuals are out-of-target ones")
        x, kept, dropped = _fill_and_drop_constant(np.asarray(x, dtype=np.float64),
                                                   list(features))
        y, groups = np.asarray(y, dtype=np.float64), np.asarray(groups)
        residuals = np.empty(len(y))
        for g in np.unique(groups):
            held = groups == g
            residuals[held] = y[held] - linear_gain(x[held], **_fit_linear(x[~held], y[~held]))
        meta = {"method": "", "base_model": "", "embedding": {}, "esms": {}, "grid": {},
                "cells": [], **meta}
        return cls(features=kept, dropped=dropped, residuals=residuals.tolist(),
                   interval=interval, **_fit_linear(x, y), **meta)

    # --- prediction ---------------------------------------------------------------------------

    def predict(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Expected gain, interval bounds and P(gain > 0) for features x (S, F)."""
        x = np.array(x, dtype=np.float64)
        mean = np.asarray(self.mean)
        x = np.where(np.isfinite(x), x, mean)  # unknown value: the training mean (no effect)
        gain = linear_gain(x, mean=self.mean, scale=self.scale, coef=self.coef,
                           intercept=self.intercept)
        res = np.asarray(self.residuals, dtype=np.float64)
        tail = (1.0 - self.interval) / 2
        low, high = np.quantile(res, [tail, 1.0 - tail])
        p_better = (gain[:, None] + res[None, :] > 0).mean(axis=1)
        return {"gain": gain, "low": gain + low, "high": gain + high, "p_better": p_better}

    @property
    def targets(self) -> list[str]:
        return sorted({c["target"] for c in self.cells})

    @property
    def target_rows(self) -> tuple[int, int]:
        rows = [int(c["target_rows"]) for c in self.cells if c.get("target_rows")]
        return (min(rows), max(rows)) if rows else (0, 0)

    def fitted_on(self) -> FittedOn:
        return FittedOn(grid=self.grid.get("name"), cells=len(self.cells),
                        targets=len(self.targets), target_rows=self.target_rows,
                        target_types=frozenset(c["target_type"] for c in self.cells
                                               if c.get("target_type")),
                        features=list(self.features))

    def validate(self, origin: str) -> None:
        sizes = {len(self.features), len(self.mean), len(self.scale), len(self.coef)}
        if len(sizes) != 1 or not self.residuals:
            raise AdviceError(f"{origin} is malformed: features, mean, scale and coef differ in "
                              "length or there are no residuals; refit it")

    # --- compatibility ------------------------------------------------------------------------

    def check(self, *, model_name: str, pooling: str, max_length: int,
              entries: list[HubEntry], origin: str, hub: str) -> None:
        """Refuse (AdviceError) a model made for another base model, embedding or hub."""
        fix = (f"refit it for this hub with `stepstone bench calibrate --grid "
               f"{self.grid.get('name', 'GRID')} --hub {hub}`")
        mismatch = embedding_mismatch(
            {**self.embedding, "model_name": self.base_model},
            {"model_name": model_name, "pooling": pooling, "max_length": max_length})
        if mismatch:
            raise AdviceError(f"{origin} was fitted for {mismatch}: {fix}")
        have = {e.id: esm_digest(e) for e in entries}
        used = sorted({c["esm_id"] for c in self.cells})
        differ = [i for i in used if have.get(i) != self.esms.get(i)]
        if differ:
            shown = ", ".join(differ[:5]) + (" ..." if len(differ) > 5 else "")
            raise AdviceError(f"{origin} was fitted on ESMs that hub {hub} does not have, or "
                              f"has in another version ({len(differ)} of {len(used)}: {shown}): "
                              f"{fix}")


def load_advice(option: str | os.PathLike | bool | None, *, hub_root: Path,
                check: Callable[[AdviceModel, str], None]) -> AdviceModel | None:
    """The advice model to use: ``option`` False = none; None = the hub's own file when it
    exists (a mismatch is logged and the columns left out); a path = that file (a mismatch is
    an error)."""
    if option is False:
        return None
    explicit = option not in (None, True)
    path = Path(option) if explicit else hub_root / ADVICE_FILE
    if not path.is_file():
        if explicit:
            raise AdviceError(f"no advice model at {path}; make one with `stepstone bench "
                              "calibrate --grid GRID --output FILE`")
        logger.debug("no advice model in %s: no gain columns", hub_root)
        return None
    try:
        model = AdviceModel.load(path)
        check(model, str(path))
    except AdviceError as err:
        if explicit:
            raise
        logger.warning("advice left out: %s", err)
        return None
    return model


def advise(model: AdviceModel, sources: list[RankedSource], inputs: FeatureInputs,
           target: dict[str, Any], *, origin: str) -> tuple[list[RankedSource], dict[str, Any]]:
    """Sources with expected_gain, gain_low, gain_high, p_better filled in, and the
    recommendation."""
    pred = model.predict(feature_matrix(inputs, model.features))
    out = with_gains(sources, pred["gain"], pred["low"], pred["high"], pred["p_better"])
    return out, recommend(out, model.fitted_on(), target, origin=origin)


def with_gains(sources: list[RankedSource], gain: np.ndarray, low: np.ndarray,
               high: np.ndarray, p_better: np.ndarray) -> list[RankedSource]:
    """Sources with expected_gain, gain_low, gain_high and p_better filled in, (S,) each."""
    return [replace(s, expected_gain=float(gain[i]), gain_low=float(low[i]),
                    gain_high=float(high[i]), p_better=float(p_better[i]))
            for i, s in enumerate(sources)]


def recommend(sources: list[RankedSource], fitted: FittedOn, target: dict[str, Any], *,
              origin: str) -> dict[str, Any]:
    """The source with the highest expected gain if it is :func:`worth_it`, else "fine-tune on
    your data directly"."""
    best = max(sources, key=lambda s: (s.expected_gain, -s.rank))
    fields = {"expected_gain": best.expected_gain, "low": best.gain_low,
              "high": best.gain_high, "p_better": best.p_better}
    if worth_it(best.expected_gain, best.p_better):
        text = (f"Fine-tune on {best.task_name} first: expected {best.expected_gain:+.1f} points "
                f"(80 %: {best.gain_low:+.1f} to {best.gain_high:+.1f}), better than no "
                f"intermediate step with probability {best.p_better:.2f}.")
        pick = {"source": best.task_name, "esm_id": best.esm_id, "rank": best.rank}
    else:
        verb = "likely" if best.p_better < MIN_P_BETTER else "expected"
        text = (f"No source is {verb} to help (best: {best.task_name}, expected "
                f"{best.expected_gain:+.1f} points, P = {best.p_better:.2f}): fine-tune on your "
                "data directly.")
        pick = {"source": None, "esm_id": None, "rank": None, "best": best.task_name}
    return {"text": text, **pick, **fields, "note": _caveat(fitted, target),
            "model": {"path": origin, "grid": fitted.grid, "cells": fitted.cells,
                      "targets": fitted.targets, "features": fitted.features}}


def _caveat(fitted: FittedOn, target: dict[str, Any]) -> str | None:
    """What the user should know when the target is unlike the ones the model was fitted on."""
    notes = []
    low, high = fitted.target_rows
    rows = int(target.get("num_examples") or 0)
    if high and (rows > 2 * high or rows < low / 2):
        span = f"{low:,}" if low == high else f"{low:,}-{high:,}"
        notes.append(f"fitted on targets of {span} training examples, yours has {rows:,} "
                     "(gains usually shrink as the target grows)")
    kinds = fitted.target_types
    if kinds and target.get("task_type") not in kinds:
        notes.append(f"fitted on {', '.join(sorted(kinds))} targets only")
    if fitted.targets < 10:
        notes.append(f"fitted on {fitted.targets} targets: a rough guide")
    return "; ".join(notes) or None


def inputs_for(sources: list[RankedSource], reference: float, entries: dict[str, HubEntry],
               *, textemb: dict[str, float] | None, target_rows: int, regression: bool
               ) -> FeatureInputs:
    """Feature inputs of ranked sources (``entries``: esm id -> hub entry; ``textemb``: esm id
    -> TextEmb similarity, None when the model does not use it). Ranking and calibration both
    build them here, so a model sees at ranking time what it was fitted on."""
    rows = [entries[s.esm_id] for s in sources]
    sims = None if textemb is None else np.array([textemb.get(s.esm_id, np.nan)
                                                  for s in sources])
    return FeatureInputs(
        scores=np.array([s.score for s in sources], dtype=np.float64), reference=reference,
        textemb=sims,
        fit_cosine=np.array([e.fit_cosine if e.fit_cosine is not None else np.nan
                             for e in rows]),
        source_rows=np.array([float(source_size(e.config) or e.num_examples or 1)
                              for e in rows]),
        target_rows=target_rows, regression=regression)
