"""The learned selector: a small model, fitted on a ground-truth grid, that combines the cheap
per-source scores with what describes the source and the target into a predicted gain.

Every other method is one heuristic score. This one learns, from measured transfer gains
(``stepstone bench calibrate``, :mod:`stepstone.bench.selector`), how to weigh them: the
within-target standardised scores of :data:`INPUT_METHODS` (each computed at ranking time, on
the same target sample and embedding), ESM-LogME's margin over "no intermediate step" (raw:
how much room a map finds), source descriptors (size, ESM fit, type) and target descriptors
(size, classes, type, pair, the base embeddings' own LogME), which let it predict that a target
leaves no room, so "no intermediate step" (predicted gain 0, the reference row) can come first.

The model is plain data saved as JSON (``selector.json`` beside the hub): a ridge regression
(coefficients) or shallow gradient-boosted trees (node arrays, evaluated here with numpy; a
test compares with scikit-learn's own prediction), the features it was fitted on, the grid and
cells, and its out-of-target residuals, from which P(gain > 0) comes as for the advice model.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ...errors import AdviceError, UnsupportedTargetError
from ...hub.catalog import HubEntry
from ..context import MethodScores, RankContext
from ..model_file import JsonModelFile
from ..registry import MethodInfo, Need, PoolUse, Reference, get_method, register

if TYPE_CHECKING:
    from ..advice import FittedOn

#: Per-source scores that run in seconds on the bundled hub and take any target type
#: (classification-only ones would leave regression targets without a feature).
INPUT_METHODS = ("esm-logme", "esm-knn", "esm-ridge", "esm-lfc", "textemb", "vocab-overlap",
                 "domain-divergence")
SOURCE_DESCRIPTORS = ("logme_margin", "log_source_rows", "fit_cosine", "source_regression")
TARGET_DESCRIPTORS = ("log_target_rows", "log_classes", "regression", "pair", "base_logme")
FEATURES = tuple(f"z:{m}" for m in INPUT_METHODS) + SOURCE_DESCRIPTORS + TARGET_DESCRIPTORS
FILE_NAME = "selector.json"
_MAKE_ONE = "make one with `stepstone bench calibrate --grid GRID`"


def standardised(scores: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
    """Within-target z-scores, (S,) -> (S,): centred and scaled by the finite scores of the
    ``reference`` rows (a boolean mask (S,); default: all rows). A missing score (NaN) and a
    constant reference give 0 (no information either way)."""
    scores = np.asarray(scores, dtype=np.float64)
    finite = np.isfinite(scores)
    basis = finite if reference is None else finite & np.asarray(reference, dtype=bool)
    out = np.zeros(len(scores))
    if basis.sum() >= 2 and np.std(scores[basis]) > 0:
        out[finite] = (scores[finite] - scores[basis].mean()) / scores[basis].std()
    return out


def target_descriptors(summary: dict[str, Any], base_logme: float | None) -> dict[str, float]:
    """What describes the target, from ``TaskData.summary()`` and the LogME of its base
    embeddings (ESM-LogME's reference row)."""
    regression = summary.get("task_type") == "regression"
    classes = 0 if regression else int(summary.get("num_classes") or 0)
    return {"log_target_rows": float(np.log10(max(int(summary.get("num_examples") or 1), 1))),
            "log_classes": float(np.log2(classes)) if classes > 1 else 0.0,
            "regression": float(regression), "pair": float(bool(summary.get("is_pair"))),
            "base_logme": float(base_logme) if base_logme is not None else np.nan}


def feature_matrix(method_scores: dict[str, dict[str, float]], ids: list[str],
                   entries: dict[str, HubEntry], target: dict[str, float], *,
                   reference_ids: Collection[str] | None = None) -> np.ndarray:
    """(S, F) features in :data:`FEATURES` order for the sources ``ids`` (ESM ids).

    ``method_scores[m][id]`` are the scores of :data:`INPUT_METHODS` (a method that could not
    score the target is absent); ``target`` is :func:`target_descriptors`. The z-scores are
    centred and scaled over ``reference_ids`` among ``ids`` (default: all of ``ids``, the
    sources being ranked together).
    """
    reference = None if reference_ids is None else np.isin(ids, list(reference_ids))
    columns = [standardised([method_scores.get(m, {}).get(i, np.nan) for i in ids], reference)
               for m in INPUT_METHODS]
    logme = method_scores.get("esm-logme", {})
    base = target["base_logme"]
    columns.append(np.array([logme.get(i, np.nan) - base for i in ids], dtype=np.float64))
    columns.append(np.array([np.log10(max(entries[i].num_examples or 1, 1)) for i in ids],
                            dtype=np.float64))
    columns.append(np.array([entries[i].fit_cosine if entries[i].fit_cosine is not None
                             else np.nan for i in ids], dtype=np.float64))
    columns.append(np.array([float(entries[i].task_type == "regression") for i in ids]))
    columns += [np.full(len(ids), target[name]) for name in TARGET_DESCRIPTORS]
    return np.column_stack(columns)


@dataclass
class SelectorModel(JsonModelFile):
    """A fitted selector (see the module docstring); plain data, saved as JSON."""

    FORMAT: ClassVar[str] = "stepstone-selector"
    VERSION: ClassVar[int] = 1
    WHAT: ClassVar[str] = "learned selector"
    MAKE_ONE: ClassVar[str] = _MAKE_ONE

    kind: str  # "ridge" or "boosting"
    features: list[str]
    mean: list[float]  # per feature: the training mean (fills unknown values) ...
    scale: list[float]  # ... and scale (ridge works on standardised features)
    intercept: float
    coef: list[float] = field(default_factory=list)  # ridge
    #: boosting: learning rate and trees as node arrays (left, right, feature, threshold, value)
    learning_rate: float = 0.0
    trees: list[dict[str, list]] = field(default_factory=list)
    residuals: list[float] = field(default_factory=list)  # out-of-target, points
    base_model: str = ""
    esms: dict[str, str] = field(default_factory=dict)  # esm id -> digest when fitted
    grid: dict[str, Any] = field(default_factory=dict)
    cells: int = 0
    targets: list[str] = field(default_factory=list)
    target_types: list[str] = field(default_factory=list)  # empty in files before 0.3
    importance: dict[str, float] = field(default_factory=dict)
    evaluation: dict[str, Any] = field(default_factory=dict)
    created: str = ""
    library_version: str = ""

    def predict_gain(self, x: np.ndarray) -> np.ndarray:
        """Predicted gain in points for features x (S, F); unknown values (NaN) take the
        training mean."""
        mean = np.asarray(self.mean, dtype=np.float64)
        x = np.where(np.isfinite(x), np.asarray(x, dtype=np.float64), mean)
        if self.kind == "ridge":
            return ((x - mean) / np.asarray(self.scale)) @ np.asarray(self.coef) + self.intercept
        out = np.full(len(x), self.intercept)
        for tree in self.trees:
            out += self.learning_rate * _tree_predict(tree, x)
        return out

    def p_better(self, gain: np.ndarray) -> np.ndarray:
        """P(gain > 0) per source from the out-of-target residuals (conformal-style)."""
        res = np.asarray(self.residuals, dtype=np.float64)
        if not len(res):
            return np.full(len(gain), np.nan)
        return (np.asarray(gain)[:, None] + res[None, :] > 0).mean(axis=1)

    def interval_offsets(self, interval: float = 0.8) -> tuple[float, float]:
        """The central ``interval`` of the out-of-target residuals, added to a predicted gain."""
        tail = (1.0 - interval) / 2
        low, high = np.quantile(np.asarray(self.residuals, dtype=np.float64), [tail, 1 - tail])
        return float(low), float(high)

    def scale_basis(self, ids: list[str]) -> set[str] | None:
        """The sources among ``ids`` that set the z-scores' centre and scale: those the model
        was fitted on (its grid's sources), so that a hub with more or other sources than the
        grid does not shift every z-score (the bundled hub ranks 62 sources, the grids 23);
        None (all of ``ids``) when fewer than 3 of them are here."""
        known = set(self.esms) & set(ids)
        return known if len(known) >= 3 else None

    def fitted_on(self) -> FittedOn:
        from ..advice import FittedOn

        rows = int(self.grid.get("target_examples") or 0)
        return FittedOn(grid=self.grid.get("name"), cells=self.cells, targets=len(self.targets),
                        target_rows=(rows, rows), target_types=frozenset(self.target_types),
                        features=list(self.features))

    def validate(self, origin: str) -> None:
        if self.kind not in ("ridge", "boosting") or list(self.features) != list(FEATURES):
            raise AdviceError(f"{origin} was fitted on other features or by another model kind "
                              f"({self.kind}); refit it with this stepstone: {_MAKE_ONE}")

    def check(self, *, model_name: str, entries: list[HubEntry], origin: str) -> None:
        """Refuse a selector fitted for another base model, or for a hub that shares none of
        its ESMs (a hub grown since is fine: new sources are described by their features)."""
        from ...encode.models import canonical_model_name
        from ..advice import esm_digest

        fix = (f"refit it for this hub with `stepstone bench calibrate --grid "
               f"{self.grid.get('name', 'GRID')} --hub HUB`")
        if canonical_model_name(self.base_model) != canonical_model_name(model_name):
            raise AdviceError(f"{origin} was fitted for base model {self.base_model!r}; this "
                              f"ranking uses {model_name!r}: {fix}")
        known = {e.id for e in entries if self.esms.get(e.id) == esm_digest(e)}
        if self.esms and not known:
            raise AdviceError(f"{origin} was fitted on another hub (none of its "
                              f"{len(self.esms)} ESMs is in this one): {fix}")


def _tree_predict(tree: dict[str, list], x: np.ndarray) -> np.ndarray:
    """One regression tree's values for x (S, F): walk all rows level by level."""
    left, right = np.asarray(tree["left"]), np.asarray(tree["right"])
    feature, threshold = np.asarray(tree["feature"]), np.asarray(tree["threshold"])
    value = np.asarray(tree["value"], dtype=np.float64)
    node = np.zeros(len(x), dtype=int)
    while True:
        inner = left[node] >= 0
        if not inner.any():
            return value[node]
        rows = np.flatnonzero(inner)
        go_left = x[rows, feature[node[rows]]] <= threshold[node[rows]]
        node[rows] = np.where(go_left, left[node[rows]], right[node[rows]])


def input_scores(ctx: RankContext) -> tuple[dict[str, dict[str, float]], float | None]:
    """The scores of :data:`INPUT_METHODS` for ``ctx``'s entries (a method that cannot score
    this kind of target is left out) and ESM-LogME's reference (the base embeddings' LogME)."""
    scores: dict[str, dict[str, float]] = {}
    reference = None
    for name in INPUT_METHODS:
        try:
            result = get_method(name).run(ctx)
        except UnsupportedTargetError:
            continue
        scores[name] = result.scores
        if name == "esm-logme":
            reference = result.reference
    return scores, reference


def load_selector(hub_root: Any, *, model_name: str | None,
                  entries: list[HubEntry]) -> SelectorModel:
    """The selector beside the hub at ``hub_root``, refused (AdviceError) when missing or fitted
    for another base model (None: its own) or for none of ``entries``."""
    path = hub_root / FILE_NAME
    model = SelectorModel.load(path)
    model.check(model_name=model_name or model.base_model, entries=entries, origin=str(path))
    return model


def learned_method(ctx: RankContext) -> MethodScores:
    """Predicted gain (points) of the learned selector fitted on the ground truth; the reference
    row is "no intermediate step" at 0."""
    model = load_selector(ctx.hub.root, model_name=ctx.encoder.spec.model_name,
                          entries=ctx.entries)
    scores, reference = input_scores(ctx)
    ids = sorted({i for s in scores.values() for i in s})
    entries = {e.id: e for e in ctx.entries}
    target = target_descriptors(ctx.task.summary(), reference)
    out = MethodScores(reference=0.0)
    if not ids:
        return out
    gains = model.predict_gain(feature_matrix(scores, ids, entries, target,
                                              reference_ids=model.scale_basis(ids)))
    for esm_id, gain in zip(ids, gains):
        out.add(esm_id, float(gain))
    return out


def selector_advice(model: SelectorModel, sources: list[Any], target: dict[str, Any], *,
                    origin: str) -> tuple[list[Any], dict[str, Any]]:
    """A learned ranking's sources with their gains filled in (its scores are the predicted
    gains; the 80 % interval and P(gain > 0) come from the model's out-of-target residuals), and
    the recommendation. Shown only when the stored advice evaluation passes the bar
    (:func:`stepstone.rank.evidence.selector_skill`); the caller checks."""
    from ..advice import recommend, with_gains

    if not model.residuals:
        raise AdviceError(f"{origin} has no out-of-target residuals: refit it ({_MAKE_ONE})")
    gain = np.array([s.score for s in sources], dtype=np.float64)
    low, high = model.interval_offsets()
    out = with_gains(sources, gain, gain + low, gain + high, model.p_better(gain))
    return out, recommend(out, model.fitted_on(), target, origin=origin)


def learned_advice(ctx: RankContext, sources: list[Any]
                   ) -> tuple[list[Any], dict[str, Any] | None, dict[str, Any]]:
    """The learned method's own advice (``MethodInfo.own_advice``): its scores are predicted
    gains, shown with the selector's intervals and P when its stored advice evaluation passes
    the bar, else one line says why."""
    from ..evidence import selector_skill

    path = ctx.hub.root / FILE_NAME
    model = SelectorModel.load(path)  # the ranking has just used it
    skilled, reason = selector_skill(model.evaluation.get("advice"), model.grid.get("name"))
    status = {"shown": skilled, "reason": reason, "path": str(path)}
    if not skilled:
        return sources, None, status
    return (*selector_advice(model, sources, ctx.task.summary(), origin=str(path)), status)


def selector_unavailable(hub: Any, model_name: str | None) -> str | None:
    """Why ``hub`` cannot serve ``learned`` (no selector beside it, or one made for another hub
    or base model); None when it can."""
    try:
        load_selector(hub.root, model_name=model_name, entries=hub.entries())
    except AdviceError as err:
        return str(err)
    return None


#: The input methods' scores are standardised within the target (over the selector's grid
#: sources among the pool), so it runs whole on the driver.
register(MethodInfo(
    "learned", "predicted gain of a selector fitted on the ground truth (bench calibrate)",
    learned_method, needs=frozenset({Need.ESMS, Need.CONFIG, Need.SOURCE_STATS,
                                     Need.DOMAIN_STATS, Need.BASE_MODEL, Need.TRANSFERS}),
    pool=PoolUse.FUSED, reference=Reference.PREDICTED_GAIN, whole=True,
    own_advice=learned_advice, unavailable=selector_unavailable))
