"""Score every ranking method against the ground truth of a grid, in one table."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data.loaders import task_name
from ..errors import StepstoneError
from ..hub.hub import Hub, slugify
from ..rank.rank import rank_sources
from .grids import Grid
from .metrics import selection_metrics
from .results import BASELINE, ResultsFile
from .tables import markdown_table

logger = logging.getLogger(__name__)

METRICS = ("regret@1", "regret@3", "regret@5", "ndcg", "spearman", "weighted_tau")
#: Rows that need no ranking method: random order (exact expectation) and no intermediate step.
RANDOM, NO_TRANSFER = "random (expected)", "no transfer"


@dataclass
class GroundTruth:
    """Mean, spread and count over seeds of every (target, source) cell; baselines apart."""

    cells: pd.DataFrame  # columns: target, source, mean, std, seeds
    task_types: dict[str, str]

    @classmethod
    def from_results(cls, results: ResultsFile, grid: Grid) -> GroundTruth:
        frame = results.to_pandas()
        if frame.empty:
            raise StepstoneError(f"{results.csv}: no finished cells yet; run `stepstone bench "
                                 "transfer` first")
        grouped = frame.groupby(["target", "source"])["score"]
        cells = grouped.agg(["mean", "std", "count"]).rename(columns={"count": "seeds"})
        cells = cells.reset_index()
        types = {t: ("regression" if (frame[frame.target == t].metric == "pearson_spearman").any()
                     else "classification") for t in frame.target.unique()}
        return cls(cells=cells, task_types=types)

    @property
    def targets(self) -> list[str]:
        return sorted(self.cells.target.unique())

    def baseline(self, target: str) -> float | None:
        row = self.cells[(self.cells.target == target) & (self.cells.source == BASELINE)]
        return float(row["mean"].iloc[0]) if len(row) else None

    def sources(self, target: str) -> pd.Series:
        """Mean result per candidate source (index: source name)."""
        rows = self.cells[(self.cells.target == target) & (self.cells.source != BASELINE)]
        return rows.set_index("source")["mean"]

    def gains(self) -> pd.DataFrame:
        """targets x sources matrix of mean gain over the no-transfer baseline (points x 100)."""
        frame = self.cells[self.cells.source != BASELINE].copy()
        frame["gain"] = [100 * (m - (self.baseline(t) or np.nan))
                         for t, m in zip(frame.target, frame["mean"])]
        return frame.pivot(index="target", columns="source", values="gain")

    def summary(self) -> pd.DataFrame:
        """Per target: baseline ± sd, best source and its gain, share of sources that help."""
        rows = []
        for target in self.targets:
            base = self.baseline(target)
            sources = self.sources(target)
            base_sd = self.cells[(self.cells.target == target)
                                 & (self.cells.source == BASELINE)]["std"]
            seed_sd = self.cells[(self.cells.target == target)
                                 & (self.cells.source != BASELINE)]["std"].mean()
            rows.append({
                "target": target, "type": self.task_types.get(target, "?"),
                "baseline": base, "baseline_sd": float(base_sd.iloc[0]) if len(base_sd) else None,
                "sources": len(sources),
                "best_source": sources.idxmax() if len(sources) else None,
                "best_gain": 100 * (sources.max() - base) if base is not None and len(sources)
                else None,
                "mean_gain": 100 * (sources.mean() - base) if base is not None and len(sources)
                else None,
                "share_above_baseline": float((sources > base).mean()) if base is not None
                and len(sources) else None,
                "mean_seed_sd": float(seed_sd) if np.isfinite(seed_sd) else None,
            })
        return pd.DataFrame(rows)


@dataclass
class Evaluation:
    """Metrics per (method, target), and their means by task type."""

    per_target: pd.DataFrame
    predictions: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """Mean over targets by task type (and over all targets), per method."""
        frames = []
        for kind, part in [("all", self.per_target)] + list(self.per_target.groupby("type")):
            means = part.groupby("method", sort=False)[list(METRICS)].mean()
            means.insert(0, "targets", part.groupby("method", sort=False).size())
            means = means.reset_index()
            means.insert(0, "type", kind)
            frames.append(means)
        return pd.concat(frames, ignore_index=True)

    def to_markdown(self, *, digits: int = 2) -> str:
        return markdown_table(self.summary(), digits=digits)


def evaluate_methods(grid: Grid, results_dir: str | os.PathLike, *, hub: Hub | str | os.PathLike,
                     methods: list[str], show_progress: bool | None = None,
                     rank_options: dict[str, Any] | None = None) -> Evaluation:
    """Rank each target's candidates with every method and compare with the ground truth.

    Each target is ranked with the same training sample the ground truth fine-tuned on. A
    candidate a method cannot score is placed last (tied with other such candidates).
    """
    truth = GroundTruth.from_results(ResultsFile(results_dir), grid)
    hub = hub if isinstance(hub, Hub) else Hub(hub)
    rows, predictions = [], {}
    for target in truth.targets:
        true = truth.sources(target)
        base = truth.baseline(target)
        ids = {slugify(task_name(s)): s for s in true.index}
        kind = truth.task_types[target]
        rows.append(_row(NO_TRANSFER, target, kind, _no_transfer(true.values, base)))
        tied = np.zeros(len(true))
        rows.append(_row(RANDOM, target, kind, selection_metrics(tied, true.values,
                                                                 baseline=base)))
        for method in methods:
            try:
                ranking = rank_sources(target, hub=hub, method=method,
                                       num_examples=grid.target_examples, seed=grid.sample_seed,
                                       filters={"ids": list(ids)}, show_progress=show_progress,
                                       **(rank_options or {}))
            except StepstoneError as err:
                logger.error("%s on %s failed: %s", method, target, err)
                continue
            scores = {ids[i]: s for i, s in ranking.scores().items() if i in ids}
            if not scores:  # e.g. a method on tuned models without them: no ranking to judge
                reason = ranking.skipped[0].reason if ranking.skipped else "no scores"
                logger.warning("%s scored no source of %s (%s); left out", method, target,
                               reason)
                continue
            predicted = np.array([scores.get(s, -np.inf) for s in true.index])
            predicted[~np.isfinite(predicted)] = np.nanmin(np.r_[predicted[np.isfinite(
                predicted)], 0.0]) - 1.0
            predictions.setdefault(method, {})[target] = scores
            rows.append(_row(method, target, kind, selection_metrics(predicted, true.values,
                                                                     baseline=base)))
    return Evaluation(per_target=pd.DataFrame(rows), predictions=predictions)


def _no_transfer(true: np.ndarray, base: float | None) -> dict[str, float]:
    """Choosing no intermediate task: its regret at every k, no ranking metrics."""
    if base is None or not len(true):
        return {m: np.nan for m in METRICS}
    best = max(true.max(), base)
    regret = (best - base) / best * 100
    return {**{f"regret@{k}": regret for k in (1, 3, 5)}, "ndcg": np.nan, "spearman": np.nan,
            "weighted_tau": np.nan}


def _row(method: str, target: str, kind: str, metrics: dict[str, float]) -> dict[str, Any]:
    return {"method": method, "target": Path(target).name, "type": kind, **metrics}
