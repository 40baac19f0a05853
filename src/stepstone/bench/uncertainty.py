"""How sure the benchmark is: bootstrap intervals, paired tests and the noise ceiling.

The ground truth is noisy twice over: few targets, and a few seeds per (target, source) cell
whose spread is as large as most gains. The bootstrap here resamples both: targets with
replacement, and within every drawn target the seeds behind each cell (and behind the
baseline), so an interval shows how much a method's mean metric could move with another draw of
targets and another draw of fine-tuning noise. Method scores are held fixed: they come from the
target's training sample, not from the seeds.

Everything is pure numpy over arrays (``TargetTruth``); ``bench/evaluate.py`` builds them.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass
from math import comb

import numpy as np
from scipy import stats

BOOT_METRICS = ("regret@1", "regret@3", "regret@5", "gain@1", "ndcg", "spearman")
KS = (1, 3, 5)
#: gain@k: the best true result among a ranking's first k picks minus no transfer, in points.
#: How many picks a user should verify to be likely to gain (gain@1 is in BOOT_METRICS).
GAIN_KS = (1, 2, 3, 4, 5)
GAIN_METRICS = tuple(f"gain@{k}" for k in GAIN_KS)
#: Every metric the bootstrap resamples.
ALL_METRICS = BOOT_METRICS + tuple(m for m in GAIN_METRICS if m not in BOOT_METRICS)


@dataclass(frozen=True)
class TargetTruth:
    """One target's measurements: ``seeds`` (S, n) per candidate source, NaN where a seed is
    missing, and ``baseline`` (n_b,) for no intermediate training."""

    name: str
    sources: tuple[str, ...]
    seeds: np.ndarray
    baseline: np.ndarray

    def means(self) -> tuple[np.ndarray, float]:
        return np.nanmean(self.seeds, axis=1), float(np.nanmean(self.baseline))

    def resample(self, rng: np.random.Generator, replicates: int
                 ) -> tuple[np.ndarray, np.ndarray]:
        """(true (R, S), baseline (R,)): each cell's mean over its seeds drawn with
        replacement, ``replicates`` times."""
        return _resample_rows(self.seeds, rng, replicates), \
            _resample_rows(self.baseline[None, :], rng, replicates)[:, 0]


def _resample_rows(values: np.ndarray, rng: np.random.Generator, replicates: int) -> np.ndarray:
    """Shape (S, n) with NaN padding -> (R, S) means of n_s values drawn from each row's n_s."""
    counts = np.sum(np.isfinite(values), axis=1)
    packed = np.where(np.isfinite(values), values, 0.0)
    order = np.argsort(~np.isfinite(values), axis=1, kind="stable")  # finite values first
    packed = np.take_along_axis(packed, order, axis=1)
    n = values.shape[1]
    draws = np.floor(rng.random((replicates, values.shape[0], n)) * counts[None, :, None])
    draws = draws.astype(int)
    picked = np.take_along_axis(np.broadcast_to(packed, (replicates, *packed.shape)), draws,
                                axis=2)
    mask = np.arange(n)[None, None, :] < counts[None, :, None]
    return np.sum(picked * mask, axis=2) / np.maximum(counts, 1)[None, :]


# --- metrics of one fixed prediction against many truths ----------------------------------------

def _tie_groups(predicted: np.ndarray) -> list[np.ndarray]:
    order = np.argsort(-predicted, kind="stable")
    values = predicted[order]
    cuts = np.flatnonzero(np.diff(values) != 0) + 1
    return np.split(order, cuts)


def batch_metrics(predicted: np.ndarray, true: np.ndarray, baseline: np.ndarray
                  ) -> dict[str, np.ndarray]:
    """Regret@1/3/5, gain@1..5, NDCG and Spearman of one prediction against R truths.

    Shapes: predicted (S,), true (R, S), baseline (R,); returns arrays (R,). Ties in
    ``predicted`` count as a uniformly random order, as in :mod:`stepstone.bench.metrics`.
    """
    groups = _tie_groups(np.asarray(predicted, float))
    best = np.maximum(true.max(axis=1), baseline)
    out = {}
    for k in sorted(set(KS) | set(GAIN_KS)):
        picked = _expected_best(groups, true, min(k, true.shape[1]))
        if k in KS:
            out[f"regret@{k}"] = (best - picked) / best * 100.0
        if k in GAIN_KS:  # what fine-tuning through each of the first k and keeping the best
            out[f"gain@{k}"] = (picked - baseline) * 100.0  # buys (k = 1: the first pick)
    gains = np.power(2.0, 100.0 * true) - 1.0
    position = np.concatenate([np.repeat(gains[:, g].mean(axis=1, keepdims=True), len(g), 1)
                               for g in groups], axis=1)
    discounts = 1.0 / np.log2(np.arange(2, true.shape[1] + 2))
    ideal = np.sort(gains, axis=1)[:, ::-1] @ discounts
    out["ndcg"] = np.where(ideal > 0, position @ discounts / np.where(ideal > 0, ideal, 1) * 100,
                           np.nan)
    out["spearman"] = _spearman_rows(predicted, true)
    return out


def _expected_best(groups: list[np.ndarray], true: np.ndarray, k: int) -> np.ndarray:
    """E[max true among the top k] per row, (R,)."""
    best = np.full(true.shape[0], -np.inf)
    taken = 0
    for group in groups:
        if taken + len(group) <= k:
            best = np.maximum(best, true[:, group].max(axis=1))
            taken += len(group)
            if taken == k:
                return best
            continue
        m, g = k - taken, len(group)
        probs = np.array([comb(j, m - 1) for j in range(g)], float) / comb(g, m)
        values = np.sort(true[:, group], axis=1)
        return np.sum(probs[None, :] * np.maximum(values, best[:, None]), axis=1)
    return best


def _spearman_rows(predicted: np.ndarray, true: np.ndarray) -> np.ndarray:
    if np.ptp(predicted) == 0:
        return np.full(true.shape[0], np.nan)
    a = stats.rankdata(predicted)
    b = stats.rankdata(true, axis=1)
    a = a - a.mean()
    b = b - b.mean(axis=1, keepdims=True)
    denom = np.sqrt(np.sum(a * a) * np.sum(b * b, axis=1))
    return np.where(denom > 0, (b @ a) / np.where(denom > 0, denom, 1), np.nan)


def random_metrics(true: np.ndarray, baseline: np.ndarray) -> dict[str, np.ndarray]:
    """The exact expectation of a random order (every source tied)."""
    return batch_metrics(np.zeros(true.shape[1]), true, baseline)


def no_transfer_metrics(true: np.ndarray, baseline: np.ndarray) -> dict[str, np.ndarray]:
    best = np.maximum(true.max(axis=1), baseline)
    regret = (best - baseline) / best * 100.0
    nan = np.full(true.shape[0], np.nan)
    return {**{f"regret@{k}": regret for k in KS},
            **{m: np.zeros(true.shape[0]) for m in GAIN_METRICS}, "ndcg": nan, "spearman": nan}


# --- the bootstrap --------------------------------------------------------------------------------

@dataclass
class Bootstrap:
    """Per method and target: the metric under every seed resample, (R,) arrays; and the
    target resamples shared by all methods (paired comparisons use the same draws)."""

    values: dict[str, dict[str, dict[str, np.ndarray]]]  # method -> target -> metric -> (R,)
    point: dict[str, dict[str, dict[str, float]]]  # method -> target -> metric (mean truth)
    target_draws: np.ndarray  # (R, T) indices into ``targets``
    targets: list[str]

    def interval(self, method: str, metric: str, *, level: float = 0.9,
                 targets: list[str] | None = None) -> tuple[float, float, float, int]:
        """(mean over targets, low, high, number of targets) of ``metric`` for ``method``."""
        names, stacked = self._stack(method, metric, targets)
        if not names:
            return np.nan, np.nan, np.nan, 0
        point = float(np.nanmean([self.point[method][t][metric] for t in names]))
        means = self._resampled_means(names, stacked)
        low, high = percentile_interval(means, level)
        return point, low, high, len(names)

    def _stack(self, method: str, metric: str, targets: list[str] | None
               ) -> tuple[list[str], np.ndarray]:
        scored = self.values.get(method, {})
        names = [t for t in (targets or self.targets) if t in scored
                 and np.isfinite(self.point[method][t][metric])]
        if not names:
            return [], np.empty((0, 0))
        return names, np.stack([scored[t][metric] for t in names], axis=1)  # (R, T')

    def _resampled_means(self, names: list[str], stacked: np.ndarray) -> np.ndarray:
        """(R,) mean over a resample of ``names`` (the shared target draws, restricted)."""
        position = {t: i for i, t in enumerate(names)}
        index = [position.get(t, -1) for t in self.targets]
        local = np.array(index)[self.target_draws]  # (R, T): -1 = a target not scored
        rows = np.arange(stacked.shape[0])[:, None]
        vals = np.where(local >= 0, stacked[rows, np.maximum(local, 0)], np.nan)
        return _nanmean(vals, axis=1)  # a draw of only unscored targets: NaN, dropped later

    def paired(self, reference: str, other: str, metric: str, *, level: float = 0.9,
               targets: list[str] | None = None) -> dict[str, float]:
        """Mean of (reference − other) over the targets both scored, its bootstrap interval, a
        two-sided sign-flip permutation p-value over targets, and on how many targets each
        side is better (lower regret, higher NDCG and Spearman) or they tie."""
        names = [t for t in (targets or self.targets)
                 if t in self.values.get(reference, {}) and t in self.values.get(other, {})
                 and np.isfinite(self.point[reference][t][metric])
                 and np.isfinite(self.point[other][t][metric])]
        if not names:
            return {"targets": 0}
        diff_point = np.array([self.point[reference][t][metric] - self.point[other][t][metric]
                               for t in names])
        stacked = np.stack([self.values[reference][t][metric] - self.values[other][t][metric]
                            for t in names], axis=1)
        low, high = percentile_interval(self._resampled_means(names, stacked), level)
        better = diff_point if higher_is_better(metric) else -diff_point
        return {"targets": len(names), "mean_diff": float(diff_point.mean()), "low": low,
                "high": high, "p_permutation": sign_flip_p(diff_point),
                "reference_better": int(np.sum(better > 1e-12)),
                "other_better": int(np.sum(better < -1e-12)),
                "ties": int(np.sum(np.abs(better) <= 1e-12))}


def _nanmean(values: np.ndarray, axis: int | None = None) -> np.ndarray:
    """np.nanmean without the warning for all-NaN slices (NaN is the intended answer)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(values, axis=axis)


def higher_is_better(metric: str) -> bool:
    return not metric.startswith("regret")


def percentile_interval(values: np.ndarray, level: float) -> tuple[float, float]:
    """The central ``level`` percentile interval of the finite resampled ``values`` (R,)."""
    values = values[np.isfinite(values)]
    if not len(values):
        return np.nan, np.nan
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def sign_flip_p(differences: np.ndarray, *, max_exact: int = 16, draws: int = 20000,
                seed: int = 0) -> float:
    """Two-sided p-value of mean(differences) = 0 by flipping the sign of each target's
    difference: exact over all 2^T sign patterns for T <= ``max_exact``, else ``draws`` random
    patterns. Shape: differences (T,)."""
    d = np.asarray(differences, float)
    observed = abs(d.mean())
    if not len(d) or np.allclose(d, 0):
        return 1.0
    if len(d) <= max_exact:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=len(d))))
    else:
        signs = np.random.default_rng(seed).choice((1.0, -1.0), size=(draws, len(d)))
    flipped = np.abs(signs @ d / len(d))
    return float(np.mean(flipped >= observed - 1e-12))


def bootstrap(truths: list[TargetTruth], predictions: dict[str, dict[str, np.ndarray]], *,
              replicates: int = 2000, seed: int = 0) -> Bootstrap:
    """Resample seeds within each target ``replicates`` times, and targets with replacement.

    ``predictions[method][target]`` is the method's score per source, aligned with that
    target's ``sources`` (a method that did not score a target is absent for it). The rows
    ``random (expected)`` and ``no transfer`` are added.
    """
    from .evaluate import NO_TRANSFER, RANDOM

    rng = np.random.default_rng(seed)
    values: dict = {}
    point: dict = {}
    for truth in truths:
        true, base = truth.resample(rng, replicates)
        mean_true, mean_base = truth.means()
        rows = {m: p[truth.name] for m, p in predictions.items() if truth.name in p}
        for method, predicted in rows.items():
            _put(values, point, method, truth.name, batch_metrics(predicted, true, base),
                 batch_metrics(predicted, mean_true[None], np.array([mean_base])))
        _put(values, point, RANDOM, truth.name, random_metrics(true, base),
             random_metrics(mean_true[None], np.array([mean_base])))
        _put(values, point, NO_TRANSFER, truth.name, no_transfer_metrics(true, base),
             no_transfer_metrics(mean_true[None], np.array([mean_base])))
    names = [t.name for t in truths]
    draws = rng.integers(0, len(names), size=(replicates, len(names)))
    return Bootstrap(values=values, point=point, target_draws=draws, targets=names)


def _put(values, point, method, target, resampled, at_mean) -> None:
    values.setdefault(method, {})[target] = resampled
    point.setdefault(method, {})[target] = {k: float(v[0]) for k, v in at_mean.items()}


# --- the noise ceiling ----------------------------------------------------------------------------

def noise_ceiling(truth: TargetTruth) -> dict[str, float]:
    """The metrics of one seed's results used as a ranking, judged by the mean of the other
    seeds (and the other seeds' baseline), averaged over the held-out seed.

    No selector can be expected to beat it: it knows this target's real transfer results, up to
    the noise of one fine-tuning run. NaN when there are fewer than two seeds.
    """
    n = truth.seeds.shape[1]
    per_seed = []
    for s in range(n):
        chosen = truth.seeds[:, s]
        others = np.delete(truth.seeds, s, axis=1)
        base_others = np.delete(truth.baseline, s) if len(truth.baseline) > 1 else truth.baseline
        ok = np.isfinite(chosen) & np.any(np.isfinite(others), axis=1)
        if ok.sum() < 2 or not np.any(np.isfinite(base_others)):
            continue
        judged = np.nanmean(others[ok], axis=1)
        base = np.array([np.nanmean(base_others)])
        metrics = batch_metrics(chosen[ok], judged[None], base)
        per_seed.append({k: float(v[0]) for k, v in metrics.items()})
    if not per_seed:
        return {m: np.nan for m in ALL_METRICS}
    return {m: float(_nanmean(np.array([p[m] for p in per_seed]))) for m in ALL_METRICS}

