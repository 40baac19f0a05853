"""Selection metrics: how good is a predicted ranking of sources, given their true transfer results.

Definitions follow the paper's evaluation code (reference/paper.md §2.5):

* Regret@k = (P* − best true result among the top-k predicted sources) / P* × 100, where P* is
  the best result in the target's whole column *including the no-transfer baseline*.
* NDCG = DCG(predicted order) / DCG(ideal order) × 100 with gain 2^(100·perf) − 1 and discount
  log2(i + 1), over the candidate sources (the baseline is not a candidate).

* Gain@1 (not in the paper) = true result of the top-1 predicted source − the no-transfer
  baseline, in points (× 100): what following the method's first pick buys, in the units of the
  target's own metric. Regret is relative to P*, so a target with a low score (a weak
  correlation) weighs more in a mean regret; the mean gain weighs every point the same.

Ties in the predicted scores are handled explicitly, as the expected value over a random order of
the tied sources: NDCG gives each position of a tied group the group's mean gain (as
sklearn's ``ndcg_score`` does), and Regret@k takes the expected best result when only some of a
tied group fit into the top k.
"""

from __future__ import annotations

from math import comb

import numpy as np
from scipy import stats


def _tie_groups(predicted: np.ndarray) -> list[np.ndarray]:
    """Indices grouped by equal predicted score, best group first."""
    order = np.argsort(-predicted, kind="stable")
    groups, start = [], 0
    for end in range(1, len(order) + 1):
        if end == len(order) or predicted[order[end]] != predicted[order[start]]:
            groups.append(order[start:end])
            start = end
    return groups


def expected_best_of_top_k(predicted: np.ndarray, true: np.ndarray, k: int) -> float:
    """E[max true result among the top-k predicted], ties broken uniformly at random.

    Shapes: predicted (S,), true (S,) for the same S candidate sources.
    """
    predicted, true = np.asarray(predicted, float), np.asarray(true, float)
    k = min(k, len(true))
    best_sure, taken = -np.inf, 0
    for group in _tie_groups(predicted):
        if taken + len(group) <= k:
            best_sure = max(best_sure, float(true[group].max()))
            taken += len(group)
            if taken == k:
                return best_sure
            continue
        # only m of the g tied sources fit: the best of a random m-subset of the group
        m, values = k - taken, np.sort(true[group])
        g = len(values)
        probs = np.array([comb(j, m - 1) for j in range(g)], float) / comb(g, m)
        return float(np.sum(probs * np.maximum(values, best_sure)))
    return best_sure


def regret_at_k(predicted: np.ndarray, true: np.ndarray, k: int, *,
                baseline: float | None = None) -> float:
    """Regret@k in percent (0 = the top k contain the best available choice).

    Shapes: predicted (S,), true (S,). ``baseline`` (no intermediate training) counts towards
    the best possible result P*, as in the paper's code, but is never a candidate.
    """
    true = np.asarray(true, float)
    best = max(float(true.max()), baseline if baseline is not None else -np.inf)
    return (best - expected_best_of_top_k(predicted, true, k)) / best * 100.0


def top1_gain(predicted: np.ndarray, true: np.ndarray, *, baseline: float | None) -> float:
    """Gain@1 in points: E[true result of the top-1 pick] − ``baseline``, × 100 (ties: the mean
    of the tied top group). NaN without a baseline. Shapes: predicted (S,), true (S,)."""
    if baseline is None:
        return float("nan")
    top = _tie_groups(np.asarray(predicted, float))[0]
    return (float(np.asarray(true, float)[top].mean()) - baseline) * 100.0


def _gains(true: np.ndarray) -> np.ndarray:
    return np.power(2.0, 100.0 * np.asarray(true, float)) - 1.0


def ndcg(predicted: np.ndarray, true: np.ndarray, *, k: int | None = None) -> float:
    """NDCG in percent with the paper's exponential gain 2^(100·perf) − 1.

    Shapes: predicted (S,), true (S,). ``k`` truncates both DCGs (None = the whole ranking).
    """
    predicted, true = np.asarray(predicted, float), np.asarray(true, float)
    n = len(true) if k is None else min(k, len(true))
    discounts = 1.0 / np.log2(np.arange(2, len(true) + 2))
    gains = _gains(true)
    position_gain = np.empty(len(true))
    pos = 0
    for group in _tie_groups(predicted):
        position_gain[pos:pos + len(group)] = gains[group].mean()
        pos += len(group)
    dcg = float(np.sum(position_gain[:n] * discounts[:n]))
    ideal = float(np.sum(np.sort(gains)[::-1][:n] * discounts[:n]))
    return dcg / ideal * 100.0 if ideal > 0 else float("nan")


def spearman(predicted: np.ndarray, true: np.ndarray) -> float:
    """Spearman rank correlation between predicted scores and true results (average ranks)."""
    if np.ptp(predicted) == 0 or np.ptp(true) == 0:
        return float("nan")
    return float(stats.spearmanr(predicted, true).statistic)


def weighted_kendall(predicted: np.ndarray, true: np.ndarray) -> float:
    """Weighted Kendall τ (hyperbolic weights: swaps near the top count most; scipy's weightedtau)."""
    if np.ptp(predicted) == 0 or np.ptp(true) == 0:
        return float("nan")
    return float(stats.weightedtau(true, predicted).statistic)


def selection_metrics(predicted: np.ndarray, true: np.ndarray, *, baseline: float | None,
                      ks: tuple[int, ...] = (1, 3, 5)) -> dict[str, float]:
    """All metrics for one target: regret@k for each k, gain@1, NDCG, Spearman, weighted
    Kendall τ."""
    out = {f"regret@{k}": regret_at_k(predicted, true, k, baseline=baseline) for k in ks}
    out["gain@1"] = top1_gain(predicted, true, baseline=baseline)
    out["ndcg"] = ndcg(predicted, true)
    out["spearman"] = spearman(predicted, true)
    out["weighted_tau"] = weighted_kendall(predicted, true)
    return out
