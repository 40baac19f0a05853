"""Fit the advice model of a hub on a ground-truth grid, and measure how good its advice is.

``stepstone bench calibrate --grid G`` ranks every target of the grid against the whole hub
(with the grid's training sample, so the features are the ones a user would see), joins the
ranked sources with the measured gains of their cells, fits :class:`AdviceModel` and writes it
next to the hub. With ``evaluate`` it also measures the advice leave-one-target-out: each
target's cells are predicted by a model fitted without them (its intervals from residuals of
the remaining targets), then compared with what was measured.

How the model is fitted (BayesianRidge, leave-one-target-out residuals) is
:meth:`AdviceModel.fit`'s business; this module gathers the cells and measures the result.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import __version__
from ..data.loaders import task_name
from ..errors import BenchmarkError, DataError, ScoreError
from ..hub.hub import Hub, slugify
from ..rank.advice import (DEFAULT_FEATURES, FEATURES, AdviceModel, esm_digest,
                           feature_matrix, inputs_for, worth_it)
from ..rank.rank import rank_sources
from ..rank.ranking import Ranking
from .evaluate import GroundTruth
from .grids import Grid
from .results import ResultsFile

logger = logging.getLogger(__name__)


def calibration_cells(grid: Grid, results_dir: str | os.PathLike, hub: Hub, *,
                      method: str = "esm-logme", show_progress: bool | None = None
                      ) -> pd.DataFrame:
    """One row per measured (target, source) cell whose source the hub ranks: the target,
    source, esm id, gain (points), seed sd, seeds, target rows/type and the raw feature
    inputs (score, reference, textemb, fit, source rows)."""
    truth = GroundTruth.from_results(ResultsFile(results_dir), grid)
    rows = []
    entries = {e.id: e for e in hub.entries()}
    options = dict(hub=hub, num_examples=grid.target_examples, seed=grid.sample_seed,
                   show_progress=show_progress, advice=False, stability="off")
    for target in truth.targets:
        if truth.baseline(target) is None or not len(truth.sources(target)):
            logger.info("%s: no baseline or no source cell measured yet; left out", target)
            continue
        ranking = rank_or_skip(target, method=method, **options)
        by_textemb = rank_or_skip(target, method="textemb", **options) if ranking else None
        if by_textemb is None:
            continue
        textemb = by_textemb.scores()
        if ranking.reference is None:
            raise BenchmarkError(f"method {method!r} has no reference row (no intermediate "
                                 "step): the advice needs one; use an ESM method")
        inputs = inputs_for(ranking.sources, ranking.reference["score"], entries,
                            textemb=textemb, target_rows=ranking.target["num_examples"],
                            regression=ranking.target["task_type"] == "regression")
        values = feature_matrix(inputs, list(FEATURES))
        base = truth.baseline(target)
        cells = truth.cells[(truth.cells.target == target)].set_index("source")
        for i, source in enumerate(ranking.sources):
            names = [s for s in cells.index if slugify(task_name(s)) == source.esm_id]
            if not names or base is None:
                continue
            cell = cells.loc[names[0]]
            rows.append({
                "target": Path(target).name, "source": Path(names[0]).name,
                "esm_id": source.esm_id, "rank": source.rank,
                "gain": 100 * (float(cell["mean"]) - base),
                "sd": 100 * float(cell["std"]) if np.isfinite(cell["std"]) else None,
                "seeds": int(cell["seeds"]), "target_rows": inputs.target_rows,
                "target_type": ranking.target["task_type"], "score": source.score,
                "reference": inputs.reference, "textemb": float(inputs.textemb[i]),
                "fit_cosine": float(inputs.fit_cosine[i]),
                "source_rows": float(inputs.source_rows[i]),
                **{f"f_{name}": float(values[i, j]) for j, name in enumerate(FEATURES)},
            })
    if not rows:
        raise BenchmarkError(f"no measured cell of grid {grid.name!r} in {results_dir} has a "
                             "source in the hub")
    return pd.DataFrame(rows)


def rank_or_skip(target: str, **options: Any) -> Ranking | None:
    """``rank_sources(target, **options)``, or None (with a warning) when the target cannot be
    ranked: one unrankable target must not sink a fit over the others' cells."""
    try:
        return rank_sources(target, **options)
    except (DataError, ScoreError) as err:
        logger.warning("%s cannot be ranked, its cells are left out: %s", target, err)
        return None


def cell_features(cells: pd.DataFrame, features: Sequence[str]) -> np.ndarray:
    """(n, F) features of calibration cells (stored per cell as computed at ranking time)."""
    missing = [f for f in features if f"f_{f}" not in cells]
    if missing:
        raise BenchmarkError(f"calibration cells lack the feature(s) {', '.join(missing)}")
    return cells[[f"f_{f}" for f in features]].to_numpy(dtype=np.float64)


def fit_advice(cells: pd.DataFrame, *, grid: Grid, hub: Hub, method: str,
               features: Sequence[str] = DEFAULT_FEATURES) -> AdviceModel:
    """The advice model of ``cells`` (:func:`calibration_cells`) for ``hub``."""
    features = list(features)
    spec = _embedding(hub, set(cells.esm_id))
    return AdviceModel.fit(
        cell_features(cells, features), cells.gain.to_numpy(), cells.target.to_numpy(),
        features, method=method, base_model=spec["model_name"], embedding=spec,
        esms={e.id: esm_digest(e) for e in hub.entries()}, grid=grid.to_dict(),
        cells=_records(cells), created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        library_version=__version__)


def _embedding(hub: Hub, ids: set[str]) -> dict[str, Any]:
    from ..esm.embedding import expected_embedding

    entry = next(e for e in hub.entries() if e.id in ids)
    return {"model_name": entry.base_model, **{k: v for k, v in expected_embedding(
        entry.base_model, entry.config).items() if k != "model_name"}}


def _records(cells: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for row in cells.to_dict(orient="records"):
        out.append({k: (None if isinstance(v, float) and not np.isfinite(v) else v)
                    for k, v in row.items()})
    return out


# --- leave-one-target-out quality ---------------------------------------------------------------


def leave_one_target_out(cells: pd.DataFrame, features: Sequence[str] = DEFAULT_FEATURES, *,
                         interval: float = 0.8) -> pd.DataFrame:
    """Every cell predicted by a model fitted on the other targets only: columns predicted,
    low, high, p_better (plus the cell's own), and the base rate of the training cells."""
    features = list(features)
    if cells.target.nunique() < 3:
        raise BenchmarkError("leave-one-target-out needs measured cells of at least 3 targets "
                             f"(got {cells.target.nunique()}); pass --no-evaluate")
    x_all = cell_features(cells, features)
    out = []
    for target in cells.target.unique():
        held = (cells.target == target).to_numpy()
        train = cells[~held]
        model = AdviceModel.fit(x_all[~held], train.gain.to_numpy(), train.target.to_numpy(),
                                features, interval=interval)
        columns = [features.index(f) for f in model.features]
        pred = model.predict(x_all[held][:, columns])
        part = cells[held].copy()
        part["predicted"], part["low"], part["high"] = pred["gain"], pred["low"], pred["high"]
        part["p_better"] = pred["p_better"]
        part["base_rate"] = float((train.gain > 0).mean())
        part["constant"] = float(train.gain.mean())
        out.append(part)
    return pd.concat(out)


def advice_quality(loto: pd.DataFrame, *, seed: int = 0) -> dict[str, Any]:
    """MAE, 80 % coverage, Brier vs base rate, and the realised gain of three policies per
    target: follow the recommendation (the best expected gain if worth_it, else skip), always
    the top-ranked measured source, never; differences with 95 % bootstrap intervals over
    targets."""
    helped = (loto.gain > 0).astype(float)
    policies = []
    for target, part in loto.groupby("target", sort=True):
        best = part.sort_values(["predicted", "rank"], ascending=[False, True]).iloc[0]
        go = worth_it(float(best.predicted), float(best.p_better))
        follow = float(best.gain) if go else 0.0
        top = float(part.sort_values("rank").iloc[0].gain)
        policies.append({"target": target, "follow": follow, "top": top, "never": 0.0,
                         "recommended": str(best.source) if go else None,
                         "p_better": float(best.p_better)})
    frame = pd.DataFrame(policies)
    records = [{**p} for p in policies]  # None stays None (pandas would make it NaN)
    return {
        "cells": len(loto), "targets": int(loto.target.nunique()),
        "mae": float((loto.predicted - loto.gain).abs().mean()),
        "mae_constant": float((loto.constant - loto.gain).abs().mean()),
        "coverage": float(((loto.gain >= loto.low) & (loto.gain <= loto.high)).mean()),
        "brier": float(((loto.p_better - helped) ** 2).mean()),
        "brier_base_rate": float(((loto.base_rate - helped) ** 2).mean()),
        "share_helped": float(helped.mean()),
        "policies": records,
        "mean_follow": float(frame.follow.mean()), "mean_top": float(frame.top.mean()),
        "follow_minus_top": _paired(frame.follow - frame.top, seed),
        "follow_minus_never": _paired(frame.follow - frame.never, seed),
        "follow_vs_top": _record(frame.follow, frame.top),
        "follow_vs_never": _record(frame.follow, frame.never),
    }


def _paired(diff: pd.Series, seed: int) -> dict[str, float]:
    """Mean difference over targets and its 95 % percentile bootstrap interval."""
    values = diff.to_numpy(dtype=float)
    rng = np.random.default_rng(seed)
    means = rng.choice(values, size=(10000, len(values)), replace=True).mean(axis=1)
    low, high = np.quantile(means, [0.025, 0.975])
    return {"mean": float(values.mean()), "low": float(low), "high": float(high)}


def _record(a: pd.Series, b: pd.Series) -> dict[str, int]:
    """Targets where a is better, equal (within 0.05 points), worse than b."""
    d = (a - b).to_numpy()
    return {"better": int((d > 0.05).sum()), "tie": int((np.abs(d) <= 0.05).sum()),
            "worse": int((d < -0.05).sum())}


def quality_markdown(quality: dict[str, Any]) -> str:
    """The figures of :func:`advice_quality` as a short Markdown block."""
    q = quality
    lines = [
        f"Leave-one-target-out over {q['targets']} targets, {q['cells']} cells "
        f"({q['share_helped']:.0%} of them helped):", "",
        "| measure | advice model | reference |", "|---|---:|---:|",
        f"| MAE of the predicted gain (points) | {q['mae']:.2f} | {q['mae_constant']:.2f} "
        "(training mean) |",
        f"| coverage of the 80 % intervals | {q['coverage']:.0%} | 80 % (nominal) |",
        f"| Brier score of P(beats no transfer) | {q['brier']:.3f} | "
        f"{q['brier_base_rate']:.3f} (base rate) |", "",
        "| policy | mean realised gain (points) |", "|---|---:|",
        f"| follow the recommendation (incl. skip) | {q['mean_follow']:+.2f} |",
        f"| always the top-ranked source | {q['mean_top']:+.2f} |",
        "| never intermediate training | +0.00 |", "",
    ]
    for other in ("top", "never"):
        d, rec = q[f"follow_minus_{other}"], q[f"follow_vs_{other}"]
        lines.append(f"Follow minus {other}: {d['mean']:+.2f} points (95 % bootstrap over "
                     f"targets: {d['low']:+.2f} to {d['high']:+.2f}); better on "
                     f"{rec['better']}, equal on {rec['tie']}, worse on {rec['worse']} targets.")
    lines += ["", "| target | recommended | P | follow | top | ", "|---|---|---:|---:|---:|"]
    for p in q["policies"]:
        pick = p["recommended"] if isinstance(p["recommended"], str) else "skip"
        lines.append(f"| {p['target']} | {pick} | {p['p_better']:.2f} | "
                     f"{p['follow']:+.2f} | {p['top']:+.2f} |")
    return "\n".join(lines) + "\n"
