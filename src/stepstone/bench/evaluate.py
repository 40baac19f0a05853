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
from ..errors import StepstoneError, UnsupportedTargetError
from ..hub.hub import Hub, slugify
from ..rank.methods.transfer_graph import is_transfer_graph, stale_table
from ..rank.rank import rank_sources
from .grids import Grid
from .metrics import selection_metrics
from .results import BASELINE, ResultsFile
from .tables import markdown_table
from .tuned_scores import TunedScores
from .score_cache import ScoreCache, is_independent
from .uncertainty import (BOOT_METRICS, GAIN_METRICS, Bootstrap, TargetTruth, bootstrap,
                          noise_ceiling)

logger = logging.getLogger(__name__)

METRICS = ("regret@1", "regret@3", "regret@5", "gain@1", "ndcg", "spearman",
           "weighted_tau")
#: Rows that need no ranking method: random order (exact expectation) and no intermediate step.
RANDOM, NO_TRANSFER = "random (expected)", "no transfer"
#: The row of one seed's ground truth used as a ranking (bench/uncertainty.py).
CEILING = "noise ceiling (one seed)"
#: The method every other is compared with.
REFERENCE_METHOD = "esm-logme"


@dataclass
class GroundTruth:
    """Mean, spread and count over seeds of every (target, source) cell; baselines apart."""

    cells: pd.DataFrame  # columns: target, source, mean, std, seeds
    task_types: dict[str, str]
    raw: pd.DataFrame | None = None  # one row per (target, source, seed), as in the results

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
        return cls(cells=cells, task_types=types, raw=frame)

    def target_truth(self, target: str) -> TargetTruth:
        """The target's seed-level results as arrays (sources in :meth:`sources` order)."""
        rows = self.raw[self.raw.target == target]
        sources = tuple(self.sources(target).index)
        table = rows.pivot_table(index="source", columns="seed", values="score")
        seeds = table.reindex(list(sources)).to_numpy(float)
        base = table.loc[BASELINE].to_numpy(float) if BASELINE in table.index \
            else np.array([np.nan])
        return TargetTruth(name=Path(target).name, sources=sources, seeds=seeds,
                           baseline=base[np.isfinite(base)] if np.isfinite(base).any()
                           else np.array([np.nan]))

    @property
    def targets(self) -> list[str]:
        return sorted(self.cells.target.unique())

    @property
    def ranked_targets(self) -> list[str]:
        """Targets with at least two measured sources: a ranking of fewer means nothing (a
        growing grid has targets with only their baseline so far)."""
        return [t for t in self.targets if len(self.sources(t)) >= 2]

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
    #: seed and target resamples of every metric (None when not computed)
    boot: Bootstrap | None = None
    #: methods whose scores came from the stored tuned-model scores, not from live models
    stored_methods: list[str] = field(default_factory=list)
    #: method -> why it failed on the targets it got no row for (e.g. taskemb without models)
    failed: dict[str, str] = field(default_factory=dict)

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

    def intervals(self, *, level: float = 0.9,
                  metrics: tuple[str, ...] = BOOT_METRICS) -> pd.DataFrame:
        """Per method (all targets): each metric's mean over targets and its ``level``
        bootstrap interval (targets and seeds resampled), and the number of targets."""
        if self.boot is None:
            raise StepstoneError("no bootstrap was computed (evaluate_methods(replicates=0))")
        rows = []
        for method in self.boot.values:
            row: dict[str, Any] = {"method": method}
            for metric in metrics:
                mean, low, high, n = self.boot.interval(method, metric, level=level)
                row.update({metric: mean, f"{metric} low": low, f"{metric} high": high})
                row["targets"] = max(row.get("targets", 0), n)
            rows.append(row)
        frame = pd.DataFrame(rows)
        return frame[["method", "targets"] + [c for c in frame.columns
                                              if c not in ("method", "targets")]]

    def gain_at_k(self, *, level: float = 0.9) -> pd.DataFrame:
        """Per method: gain@1..5, the best true result among its first k picks minus no
        transfer (points), with ``level`` intervals: how many picks a user should verify."""
        return self.intervals(level=level, metrics=GAIN_METRICS)

    def paired(self, *, reference: str = REFERENCE_METHOD, level: float = 0.9) -> pd.DataFrame:
        """``reference`` minus every other method, per metric, on the targets both scored:
        mean difference, bootstrap interval, sign-flip permutation p-value over targets, the
        Benjamini-Hochberg adjusted p-value (over the methods, per metric) and the number of
        targets on which each side is better."""
        from scipy.stats import false_discovery_control

        if self.boot is None or reference not in self.boot.values:
            return pd.DataFrame()
        others = [m for m in self.boot.values if m not in (reference, CEILING)]
        rows = [{"method": m, "metric": metric,
                 **self.boot.paired(reference, m, metric, level=level)}
                for metric in BOOT_METRICS for m in others]
        frame = pd.DataFrame([r for r in rows if r.get("targets")])
        if frame.empty:
            return frame
        frame["p_adjusted"] = np.nan
        for metric, part in frame.groupby("metric"):
            frame.loc[part.index, "p_adjusted"] = false_discovery_control(
                part["p_permutation"].to_numpy(float))
        return frame

    def fidelity(self, *, approximation: str = REFERENCE_METHOD, exact: str = "logme",
                 k: int = 5) -> pd.DataFrame:
        """Per target: how closely ``approximation``'s ranking (ESM-LogME) follows
        ``exact``'s (LogME on the tuned source models): Spearman correlation of their scores
        and the overlap of their top ``k``, over the sources both scored."""
        from scipy import stats

        rows = []
        approx, full = self.predictions.get(approximation, {}), self.predictions.get(exact, {})
        for target in sorted(set(approx) & set(full)):
            common = sorted(set(approx[target]) & set(full[target]))
            if len(common) < 2:
                continue
            a = np.array([approx[target][s] for s in common])
            b = np.array([full[target][s] for s in common])
            top_a = {common[i] for i in np.argsort(-a)[:k]}
            top_b = {common[i] for i in np.argsort(-b)[:k]}
            rows.append({"target": target, "sources": len(common),
                         "spearman": float(stats.spearmanr(a, b).statistic),
                         f"top-{k} overlap": len(top_a & top_b) / min(k, len(common)),
                         "same top-1": bool(common[int(np.argmax(a))]
                                             == common[int(np.argmax(b))])})
        return pd.DataFrame(rows)


def evaluate_methods(grid: Grid, results_dir: str | os.PathLike, *, hub: Hub | str | os.PathLike,
                     methods: list[str], show_progress: bool | None = None,
                     rank_options: dict[str, Any] | None = None, replicates: int = 2000,
                     seed: int = 0, use_cache: bool = True) -> Evaluation:
    """Rank each target's candidates with every method and compare with the ground truth.

    Each target is ranked with the same training sample the ground truth fine-tuned on. A
    candidate a method cannot score is placed last (tied with other such candidates). Methods
    on tuned source models use the scores stored with the results (bench/tuned_scores.py)
    unless ``rank_options["models_dir"]`` names an existing folder of models. ``replicates``
    seed-and-target bootstrap resamples give the intervals (0: none). With ``use_cache`` the
    scores of methods that score each source on its own are kept between evaluations
    (bench/score_cache.py): all of a target's candidates are scored once, and later
    evaluations pick out the sources measured by then.
    """
    truth = GroundTruth.from_results(ResultsFile(results_dir), grid)
    hub = hub if isinstance(hub, Hub) else Hub(hub)
    stale = any(is_transfer_graph(m) for m in methods) and stale_table(hub.root, grid.name)
    if stale:
        logger.warning("%s", stale)
    stored = TunedScores(results_dir).table()
    models_dir = (rank_options or {}).get("models_dir")
    live_models = models_dir is not None and Path(models_dir).is_dir()
    used_stored: set[str] = set()
    failures: dict[tuple[str, str], list[str]] = {}
    cache = ScoreCache() if use_cache else None
    rows, predictions, aligned = [], {}, {}
    loto: dict[str, dict[str, float]] | None = None
    for target in truth.ranked_targets:
        true = truth.sources(target)
        base = truth.baseline(target)
        ids = {slugify(task_name(s)): s for s in true.index}
        kind = truth.task_types[target]
        rows.append(_row(NO_TRANSFER, target, kind, _no_transfer(true.values, base)))
        tied = np.zeros(len(true))
        rows.append(_row(RANDOM, target, kind, selection_metrics(tied, true.values,
                                                                 baseline=base)))
        for method in methods:
            key = (Path(target).name, method)
            try:
                if method == LEARNED:  # never the stored model: it has seen this target
                    if loto is None:
                        loto = learned_loto(grid, results_dir, hub, show_progress)
                    scores = loto.get(key[0], {})
                    scores = {s: v for s, v in scores.items() if s in true.index}
                elif not live_models and key in stored:
                    scores = {ids[i]: s for i, s in stored[key].items() if i in ids}
                    used_stored.add(method)
                elif use_cache and is_independent(method):
                    scores = _cached_scores(target, method, hub=hub, grid=grid, cache=cache,
                                            show_progress=show_progress,
                                            rank_options=rank_options)
                    scores = {s: v for s, v in scores.items() if s in true.index}
                else:
                    scores = _live_scores(target, method, hub=hub, grid=grid, ids=ids,
                                          show_progress=show_progress,
                                          rank_options=rank_options)
            except StepstoneError as err:  # logged once per method and reason, at the end
                failures.setdefault((method, str(err)), []).append(target)
                continue
            if not scores:
                continue
            predicted = _aligned(scores, list(true.index))
            predictions.setdefault(method, {})[target] = scores
            aligned.setdefault(method, {})[Path(target).name] = predicted
            rows.append(_row(method, target, kind, selection_metrics(predicted, true.values,
                                                                     baseline=base)))
    boot = _bootstrap(truth, aligned, replicates=replicates, seed=seed) if replicates else None
    return Evaluation(per_target=pd.DataFrame(rows), predictions=predictions, boot=boot,
                      stored_methods=sorted(used_stored), failed=_log_failures(failures))


#: The learned selector: evaluated leave-one-target-out (bench/selector.py), never ranked live.
LEARNED = "learned"


def learned_loto(grid: Grid, results_dir: str | os.PathLike, hub: Hub,
                 show_progress: bool | None) -> dict[str, dict[str, float]]:
    """target name -> {source: out-of-target predicted gain} of the learned selector, each
    target's kind and model chosen and fitted without its cells (nested leave-one-target-out),
    so the figures depend on the grid alone, not on the hub's stored selector."""
    from .selector import nested_loto_predictions, selector_cells

    cells = selector_cells(grid, results_dir, hub, show_progress=show_progress)
    if cells["target"].nunique() < 3:
        raise StepstoneError("the learned selector needs measured cells on at least 3 targets")
    predicted, _ = nested_loto_predictions(cells)
    out: dict[str, dict[str, float]] = {}
    names = {Path(s).name: s for s in grid.sources}
    for target, source, value in zip(cells["target"], cells["source"], predicted):
        out.setdefault(target, {})[names.get(source, source)] = float(value)
    return out


def _log_failures(failures: dict[tuple[str, str], list[str]]) -> dict[str, str]:
    """One error line per method and reason (not one per target: a method without its models
    fails the same way on all of them); the reasons by method, for the report."""
    failed: dict[str, str] = {}
    for (method, reason), targets in failures.items():
        names = ", ".join(Path(t).name for t in targets)
        logger.error("%s failed on %d target(s) (%s): %s", method, len(targets), names, reason)
        failed[method] = reason if method not in failed else f"{failed[method]}; {reason}"
    return failed


def _live_scores(target: str, method: str, *, hub: Hub, grid: Grid, ids: dict[str, str],
                 show_progress: bool | None, rank_options: dict[str, Any] | None
                 ) -> dict[str, float]:
    """``method``'s score per candidate source of ``target`` (empty when it scored none or
    cannot score this kind of target; other errors are raised)."""
    try:
        ranking = rank_sources(target, hub=hub, method=method,
                               num_examples=grid.target_examples, seed=grid.sample_seed,
                               filters={"ids": list(ids)}, show_progress=show_progress,
                               stability="off", **(rank_options or {}))  # scores only
    except UnsupportedTargetError as err:  # e.g. a classification-only method on regression
        logger.info("%s skips %s: %s", method, target, err)
        return {}
    scores = {ids[i]: s for i, s in ranking.scores().items() if i in ids}
    if not scores:  # e.g. a method on tuned models without them: no ranking to judge
        reason = ranking.skipped[0].reason if ranking.skipped else "no scores"
        logger.warning("%s scored no source of %s (%s); left out", method, target, reason)
    return scores


def _cached_scores(target: str, method: str, *, hub: Hub, grid: Grid, cache: ScoreCache,
                   show_progress: bool | None, rank_options: dict[str, Any] | None
                   ) -> dict[str, float]:
    """``method``'s score of every candidate of ``target`` in the grid, measured or not, from
    the cache when it has them (computed and kept otherwise)."""
    ids = {slugify(task_name(s)): s for s in grid.candidates(target)}
    key = cache.key(method=method, target=target, num_examples=grid.target_examples,
                    seed=grid.sample_seed, hub=hub, candidates=list(ids),
                    options=rank_options or {})
    scores = cache.get(key)
    if scores is None:
        scores = _live_scores(target, method, hub=hub, grid=grid, ids=ids,
                              show_progress=show_progress, rank_options=rank_options)
        if scores:  # nothing kept for a method that could not score the target
            cache.put(key, scores)
    else:
        logger.debug("%s on %s: %d scores from the cache", method, target, len(scores))
    return scores


def _aligned(scores: dict[str, float], sources: list[str]) -> np.ndarray:
    """Scores in ``sources`` order; a source the method could not score ranks last."""
    predicted = np.array([scores.get(s, -np.inf) for s in sources])
    predicted[~np.isfinite(predicted)] = np.nanmin(np.r_[predicted[np.isfinite(
        predicted)], 0.0]) - 1.0
    return predicted


def _bootstrap(truth: GroundTruth, aligned: dict[str, dict[str, np.ndarray]], *,
               replicates: int, seed: int) -> Bootstrap:
    truths = [truth.target_truth(t) for t in truth.ranked_targets]
    boot = bootstrap(truths, aligned, replicates=replicates, seed=seed)
    for target_truth in truths:  # the ceiling is fixed per target: only targets resample
        ceiling = noise_ceiling(target_truth)
        boot.values.setdefault(CEILING, {})[target_truth.name] = {
            m: np.full(replicates, v) for m, v in ceiling.items()}
        boot.point.setdefault(CEILING, {})[target_truth.name] = ceiling
    return boot


def _no_transfer(true: np.ndarray, base: float | None) -> dict[str, float]:
    """Choosing no intermediate task: its regret at every k, no gain, no ranking metrics."""
    if base is None or not len(true):
        return {m: np.nan for m in METRICS}
    best = max(true.max(), base)
    regret = (best - base) / best * 100
    return {**{f"regret@{k}": regret for k in (1, 3, 5)}, "gain@1": 0.0, "ndcg": np.nan,
            "spearman": np.nan, "weighted_tau": np.nan}


def _row(method: str, target: str, kind: str, metrics: dict[str, float]) -> dict[str, Any]:
    return {"method": method, "target": Path(target).name, "type": kind, **metrics}
