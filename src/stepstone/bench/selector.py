"""Fit the learned selector (:mod:`stepstone.rank.methods.learned`) on a ground-truth grid, and
judge it leave-one-target-out like every other method.

The cells: every measured (target, source) of the grid, with the features the selector sees at
ranking time (the input methods' scores from the evaluation's score cache, the target sample the
grid fine-tuned on) and the measured gain in points. Leave-one-target-out: each target's sources
are predicted by a model fitted on the other targets' cells only (:func:`loto_predictions`
takes the held-out target's rows out before anything is fitted, scaling included).

Two model kinds, both small and explainable: ridge regression on standardised features
(``RidgeCV`` picks the penalty inside the training cells) and shallow gradient-boosted trees
(depth 2). The stored selector's kind is the one with the better leave-one-target-out gain@1 on
every target. Its evaluation must not see the held-out target through that choice either, so the
figures that judge the method (:func:`nested_loto_predictions`: ``learned`` in `bench evaluate`
and `bench report`, the policies `bench calibrate` writes) choose the kind for each held-out
target by a leave-one-target-out run inside the other targets; the per-kind figures beside them
are plain leave-one-target-out and are shown for comparison only.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import __version__
from ..data.loaders import task_name
from ..hub.hub import Hub, slugify
from ..rank.methods.learned import FEATURES, INPUT_METHODS, SelectorModel, feature_matrix, \
    target_descriptors
from .grids import Grid

logger = logging.getLogger(__name__)

KINDS = ("ridge", "boosting")
RIDGE_ALPHAS = (0.1, 1.0, 10.0, 100.0, 1000.0)
BOOSTING = {"n_estimators": 150, "max_depth": 2, "learning_rate": 0.05, "subsample": 0.8,
            "min_samples_leaf": 5, "random_state": 0}

Fitter = Callable[[np.ndarray, np.ndarray], SelectorModel]


# --- the cells ------------------------------------------------------------------------------------

def selector_cells(grid: Grid, results_dir: str | os.PathLike, hub: Hub, *,
                   show_progress: bool | None = None) -> pd.DataFrame:
    """One row per measured (target, source): target, source, esm_id, gain (points) and the
    :data:`FEATURES` columns, computed as at ranking time."""
    from .calibrate import rank_or_skip
    from .evaluate import GroundTruth, evaluate_methods
    from .results import ResultsFile

    truth = GroundTruth.from_results(ResultsFile(results_dir), grid)
    # the options `bench evaluate` and `bench report` rank with, so their kept scores are reused
    evaluation = evaluate_methods(grid, results_dir, hub=hub, methods=list(INPUT_METHODS),
                                  show_progress=show_progress, replicates=0,
                                  rank_options={"models_dir": None})
    entries = {e.id: e for e in hub.entries()}
    frames = []
    for target in truth.ranked_targets:
        measured = truth.sources(target)
        base = truth.baseline(target)
        ids = {slugify(task_name(s)): s for s in measured.index}
        ids = {i: s for i, s in ids.items() if i in entries}
        if base is None or len(ids) < 2:
            continue
        # the reference row of ESM-LogME (the base embeddings' LogME) on the grid's sample
        probe = rank_or_skip(target, hub=hub, method="esm-logme", advice=False,
                             num_examples=grid.target_examples, seed=grid.sample_seed,
                             filters={"ids": [next(iter(ids))]}, show_progress=show_progress)
        if probe is None:
            continue
        reference = probe.reference["score"] if probe.reference else None
        scores = {m: {slugify(task_name(s)): v for s, v in by_target.get(target, {}).items()}
                  for m, by_target in evaluation.predictions.items()}
        order = sorted(ids)
        x = feature_matrix(scores, order, entries, target_descriptors(probe.target, reference))
        frame = pd.DataFrame(x, columns=list(FEATURES))
        frame.insert(0, "gain", [100.0 * (float(measured[ids[i]]) - base) for i in order])
        frame.insert(0, "esm_id", order)
        frame.insert(0, "source", [Path(ids[i]).name for i in order])
        frame.insert(0, "target", Path(target).name)
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=["target", "source", "esm_id", "gain", *FEATURES])
    return pd.concat(frames, ignore_index=True)


# --- fitting --------------------------------------------------------------------------------------

def fit_model(x: np.ndarray, y: np.ndarray, *, kind: str) -> SelectorModel:
    """A selector of ``kind`` fitted on features x (n, F) and gains y (n,) (no residuals)."""
    known = np.isfinite(x)
    # a column with no known value (e.g. a score no target could take) gets mean 0
    mean = np.where(known.any(axis=0), np.where(known, x, 0.0).sum(axis=0)
                    / np.maximum(known.sum(axis=0), 1), 0.0)
    x = np.where(np.isfinite(x), x, mean)
    scale = x.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    if kind == "ridge":
        from sklearn.linear_model import RidgeCV

        ridge = RidgeCV(alphas=RIDGE_ALPHAS).fit((x - mean) / scale, y)
        return SelectorModel(kind=kind, features=list(FEATURES), mean=mean.tolist(),
                             scale=scale.tolist(), intercept=float(ridge.intercept_),
                             coef=ridge.coef_.tolist())
    if kind == "boosting":
        from sklearn.ensemble import GradientBoostingRegressor

        boost = GradientBoostingRegressor(**BOOSTING).fit(x, y)
        trees = [_tree_arrays(est[0].tree_) for est in boost.estimators_]
        return SelectorModel(kind=kind, features=list(FEATURES), mean=mean.tolist(),
                             scale=scale.tolist(), intercept=float(boost.init_.constant_[0][0]),
                             learning_rate=float(boost.learning_rate), trees=trees,
                             importance=dict(zip(FEATURES, boost.feature_importances_.tolist())))
    raise ValueError(f"unknown selector kind {kind!r}; choose from {', '.join(KINDS)}")


def _tree_arrays(tree) -> dict[str, list]:
    return {"left": tree.children_left.tolist(), "right": tree.children_right.tolist(),
            "feature": tree.feature.tolist(), "threshold": tree.threshold.tolist(),
            "value": tree.value[:, 0, 0].tolist()}


def loto_predictions(cells: pd.DataFrame, *, kind: str,
                     fit: Callable[..., SelectorModel] = fit_model) -> np.ndarray:
    """Out-of-target predicted gain for every row of ``cells``: each target's rows by a model
    fitted on the other targets' rows only."""
    out = np.full(len(cells), np.nan)
    x = cells[list(FEATURES)].to_numpy(np.float64)
    y = cells["gain"].to_numpy(np.float64)
    for target in cells["target"].unique():
        held = (cells["target"] == target).to_numpy()
        model = fit(x[~held], y[~held], kind=kind)
        out[held] = model.predict_gain(x[held])
    return out


def choose_kind(cells: pd.DataFrame, *, kinds: tuple[str, ...] = KINDS,
                fit: Callable[..., SelectorModel] = fit_model) -> tuple[str, dict[str, np.ndarray]]:
    """The kind whose leave-one-target-out first picks gain most on ``cells`` (the first of
    ``kinds`` on a tie), and each kind's out-of-target predictions."""
    predicted = {kind: loto_predictions(cells, kind=kind, fit=fit) for kind in kinds}
    gain = {kind: policy_gains(cells, p)["top1"].mean() for kind, p in predicted.items()}
    return max(kinds, key=gain.__getitem__), predicted


def nested_loto_predictions(cells: pd.DataFrame, *, kinds: tuple[str, ...] = KINDS,
                            fit: Callable[..., SelectorModel] = fit_model
                            ) -> tuple[np.ndarray, dict[str, str]]:
    """Out-of-target predicted gain for every row of ``cells``, and the kind used per target:
    for each held-out target the kind is chosen by :func:`choose_kind` on the other targets'
    cells (an inner leave-one-target-out), then fitted on them. Nothing about the held-out
    target, its kind included, is chosen with its cells."""
    out = np.full(len(cells), np.nan)
    x = cells[list(FEATURES)].to_numpy(np.float64)
    y = cells["gain"].to_numpy(np.float64)
    chosen: dict[str, str] = {}
    for target in cells["target"].unique():
        held = (cells["target"] == target).to_numpy()
        kind = kinds[0] if len(kinds) == 1 else choose_kind(cells[~held], kinds=kinds,
                                                             fit=fit)[0]
        out[held] = fit(x[~held], y[~held], kind=kind).predict_gain(x[held])
        chosen[str(target)] = kind
    return out, chosen


def _policy_summary(cells: pd.DataFrame, predicted: np.ndarray) -> dict[str, Any]:
    policy = policy_gains(cells, predicted)
    return {"gain@1": float(policy["top1"].mean()), "policy": float(policy["learned"].mean()),
            "skipped": int(policy["skipped"].sum()),
            "mae": float(np.mean(np.abs(predicted - cells["gain"])))}


def policy_gains(cells: pd.DataFrame, predicted: np.ndarray) -> pd.DataFrame:
    """Per target, the measured gain (points) of: following the selector's first pick
    (``top1``), following its recommendation including "skip" when no source is predicted to
    gain (``learned``), and never doing intermediate training (``never``, 0)."""
    rows = []
    for target, part in cells.assign(predicted=predicted).groupby("target", sort=True):
        first = part.loc[part["predicted"].idxmax()]
        skip = first["predicted"] <= 0
        rows.append({"target": target, "top1": float(first["gain"]),
                     "learned": 0.0 if skip else float(first["gain"]), "skipped": bool(skip),
                     "never": 0.0})
    return pd.DataFrame(rows)


#: the policies of :func:`policy_gains` and the differences the README reports, and the file in
#: the grid's results folder that `bench calibrate` writes them to
POLICIES_FILE = "selector_policies.csv"
POLICY_ROWS = {"follow, incl. skip": "learned", "always its first pick": "top1", "never": "never"}
POLICY_DIFFERENCES = (("follow, incl. skip", "always its first pick"),
                      ("follow, incl. skip", "never"), ("always its first pick", "never"))


def policy_intervals(policy: pd.DataFrame, *, level: float = 0.9, replicates: int = 2000,
                     seed: int = 0) -> pd.DataFrame:
    """Mean per-target gain (points) of each policy and of the paired differences, with a
    percentile interval from resampling targets (the same draws for every row, so differences
    are paired) and a sign-flip p for the differences. The cells hold seed means, so seed noise
    is not resampled here: these intervals are somewhat narrower than the report's."""
    from .uncertainty import percentile_interval, sign_flip_p

    values = {name: policy[column].to_numpy(np.float64) for name, column in POLICY_ROWS.items()}
    values.update({f"{a} - {b}": values[a] - values[b] for a, b in POLICY_DIFFERENCES})
    draws = np.random.default_rng(seed).integers(0, len(policy), size=(replicates, len(policy)))
    rows = []
    for name, v in values.items():
        low, high = percentile_interval(v[draws].mean(axis=1), level)
        rows.append({"policy": name, "targets": len(v), "mean": float(v.mean()), "low": low,
                     "high": high, "p": sign_flip_p(v) if " - " in name else np.nan})
    return pd.DataFrame(rows)


def policy_markdown(rows: list[dict[str, Any]]) -> str:
    """The rows of :func:`policy_intervals` (or of its CSV) as a Markdown table; p is shown
    for the differences only."""
    from .report_stats import interval_text

    lines = ["| policy (learned selector, leave-one-target-out) | targets | gain (points) | "
             "p (sign flip) |", "|---|---:|---|---:|"]
    for r in rows:
        p = r.get("p")
        shown = f"{p:.3f}" if p is not None and np.isfinite(p) else ""
        lines.append(f"| {r['policy']} | {int(r['targets'])} | "
                     f"{interval_text(r['mean'], r['low'], r['high'], 2)} | {shown} |")
    return "\n".join(lines)


def fit_selector(cells: pd.DataFrame, *, grid: Grid, hub: Hub, model_name: str,
                 kinds: tuple[str, ...] = KINDS) -> SelectorModel:
    """Choose the kind by leave-one-target-out gain@1, fit it on every cell, and attach its
    out-of-target residuals, the evaluation (per kind, and nested: the kind chosen without the
    held-out target, which the policies are computed from) and where it came from."""
    from ..rank.advice import esm_digest

    if cells["target"].nunique() < 3:
        raise ValueError("the learned selector needs measured cells on at least 3 targets")
    kind, out_of_target = choose_kind(cells, kinds=kinds)
    evaluation = {k: _policy_summary(cells, p) for k, p in out_of_target.items()}
    nested, chosen = nested_loto_predictions(cells, kinds=kinds)
    x = cells[list(FEATURES)].to_numpy(np.float64)
    y = cells["gain"].to_numpy(np.float64)
    model = fit_model(x, y, kind=kind)
    model.residuals = (y - out_of_target[kind]).tolist()
    if kind == "ridge":
        model.importance = dict(zip(FEATURES, model.coef))
    entries = {e.id: e for e in hub.entries()}
    model.esms = {i: esm_digest(entries[i]) for i in sorted(set(cells["esm_id"]))
                  if i in entries}
    model.base_model = model_name
    model.grid = {"name": grid.name, "target_examples": grid.target_examples}
    model.cells, model.targets = len(cells), sorted(cells["target"].unique())
    model.target_types = sorted({"regression" if r else "classification"
                                 for r in cells["regression"].astype(bool)})
    policy = policy_intervals(policy_gains(cells, nested))
    # p is for differences only: None (JSON null, not NaN) on the policies themselves
    records = [{k: None if isinstance(v, float) and not np.isfinite(v) else v
                for k, v in row.items()} for row in policy.to_dict(orient="records")]
    model.evaluation = {"chosen": kind, "leave_one_target_out": evaluation,
                        "nested": {**_policy_summary(cells, nested), "kinds": chosen},
                        "policies": records}
    model.created = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    model.library_version = __version__
    return model


# --- advice from the selector, judged leave-one-target-out ---------------------------------------

def advice_loto(cells: pd.DataFrame, *, kind: str, interval: float = 0.8) -> pd.DataFrame:
    """Each target's cells predicted by a selector fitted without that target, with the
    interval and P(gain > 0) from the residuals of a leave-one-target-out run *inside* the
    other targets (nested), so nothing about the held-out target reaches its advice. Columns
    as :func:`stepstone.bench.calibrate.advice_quality` reads them; ``rank`` is ESM-LogME's
    rank within the target, so its "top" policy is ESM-LogME's first pick."""
    out = []
    tail = (1.0 - interval) / 2
    for target in cells["target"].unique():
        held = cells["target"] == target
        train, part = cells[~held], cells[held].copy()
        inner = train["gain"].to_numpy() - loto_predictions(train, kind=kind)
        model = fit_model(train[list(FEATURES)].to_numpy(np.float64),
                          train["gain"].to_numpy(np.float64), kind=kind)
        model.residuals = inner.tolist()
        gain = model.predict_gain(part[list(FEATURES)].to_numpy(np.float64))
        low, high = np.quantile(inner, [tail, 1.0 - tail])
        part["predicted"], part["low"], part["high"] = gain, gain + low, gain + high
        part["p_better"] = model.p_better(gain)
        part["base_rate"] = float((train["gain"] > 0).mean())
        part["constant"] = float(train["gain"].mean())
        part["rank"] = part["z:esm-logme"].rank(ascending=False, method="first").astype(int)
        out.append(part)
    return pd.concat(out)


def has_skill(quality: dict[str, Any]) -> bool:
    """The bar for showing per-source gains: :func:`stepstone.rank.evidence.meets_advice_bar`."""
    from ..rank.evidence import meets_advice_bar

    return meets_advice_bar(quality)


def selector_markdown(model: SelectorModel) -> str:
    """The leave-one-target-out figures stored with a fitted selector, as Markdown."""
    from .calibrate import quality_markdown

    loto = model.evaluation.get("leave_one_target_out", {})
    lines = [f"Learned selector fitted on grid `{model.grid.get('name')}` ({model.cells} cells "
             f"of {len(model.targets)} targets); kind chosen by leave-one-target-out gain@1: "
             f"**{model.evaluation.get('chosen')}**.", "",
             "| kind | gain@1 (points) | follow incl. skip | targets skipped | MAE |",
             "|---|---:|---:|---:|---:|"]
    lines += [f"| {kind} | {e['gain@1']:+.2f} | {e['policy']:+.2f} | {e['skipped']} | "
              f"{e['mae']:.2f} |" for kind, e in loto.items()]
    nested = model.evaluation.get("nested")
    if nested:
        counts = pd.Series(nested["kinds"]).value_counts()
        used = ", ".join(f"{k} on {n}" for k, n in counts.items())
        lines.append(f"| nested: kind chosen without the target ({used}) | "
                     f"{nested['gain@1']:+.2f} | {nested['policy']:+.2f} | {nested['skipped']} | "
                     f"{nested['mae']:.2f} |")
    policies = model.evaluation.get("policies")
    if policies:
        lines += ["", "The per-kind rows chose nothing for a target but saw it in choosing "
                  "between the kinds; the nested row is the method's evaluation (what `bench "
                  "report` shows for `learned`). Its policies, mean gain per target in points "
                  "[90 % interval, targets resampled; seed noise not included]:", "",
                  policy_markdown(policies)]
    weights = sorted(model.importance.items(), key=lambda kv: -abs(kv[1]))
    label = "coefficient (standardised)" if model.kind == "ridge" else "importance"
    lines += ["", f"| feature | {label} |", "|---|---:|"]
    lines += [f"| {name} | {value:+.3f} |" for name, value in weights]
    advice = model.evaluation.get("advice")
    if advice:
        skill = "has" if advice.get("skill") else "does not have"
        lines += ["", f"As advice (nested leave-one-target-out), the selector {skill} the skill "
                  "the rank output asks for (Brier <= 0.9x base rate, MAE below the "
                  "constant's, 80 % intervals covering 75-85 %):", "",
                  quality_markdown(advice)]
    return "\n".join(lines) + "\n"
