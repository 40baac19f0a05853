"""Selection metrics on tiny matrices worked out by hand."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from stepstone.bench import expected_best_of_top_k, ndcg, regret_at_k, selection_metrics
from stepstone.bench.metrics import top1_gain

# one target, four candidate sources, true accuracies and a method's scores
TRUE = np.array([0.80, 0.70, 0.90, 0.60])  # best source: index 2 (0.90)
PRED = np.array([3.0, 4.0, 2.0, 1.0])  # predicted order: 1, 0, 2, 3


def test_regret_by_hand():
    # top-1 = source 1 (0.70): (0.90 - 0.70) / 0.90 * 100
    assert regret_at_k(PRED, TRUE, 1) == pytest.approx(20 / 0.9)
    # top-3 = {1, 0, 2} contains the best
    assert regret_at_k(PRED, TRUE, 3) == pytest.approx(0.0)
    assert regret_at_k(PRED, TRUE, 2) == pytest.approx(10 / 0.9)


def test_baseline_counts_towards_the_best_possible_result():
    # the paper takes P* over the whole column, the no-transfer row included
    assert regret_at_k(PRED, TRUE, 3, baseline=0.95) == pytest.approx((0.95 - 0.90) / 0.95 * 100)
    assert regret_at_k(PRED, TRUE, 3, baseline=0.50) == pytest.approx(0.0)  # baseline worse


def test_gain_of_the_top_pick_by_hand():
    # top-1 = source 1 (0.70) against a baseline of 0.75: -5 points; 0.90 would gain +15
    assert top1_gain(PRED, TRUE, baseline=0.75) == pytest.approx(-5.0)
    assert top1_gain(TRUE, TRUE, baseline=0.75) == pytest.approx(15.0)
    # a tie at the top: the mean of the tied sources (0.80 and 0.70) - 0.75
    assert top1_gain(np.array([1.0, 1.0, 0.0, 0.0]), TRUE, baseline=0.75) == pytest.approx(0.0)
    assert np.isnan(top1_gain(PRED, TRUE, baseline=None))
    # it does not depend on the best result, unlike regret: a low-scoring target counts the same
    assert selection_metrics(PRED, TRUE - 0.5, baseline=0.25)["gain@1"] == pytest.approx(-5.0)


def test_ndcg_by_hand():
    gains = 2 ** (100 * TRUE) - 1
    disc = 1 / np.log2(np.arange(2, 6))
    dcg = gains[1] * disc[0] + gains[0] * disc[1] + gains[2] * disc[2] + gains[3] * disc[3]
    ideal = gains[2] * disc[0] + gains[0] * disc[1] + gains[1] * disc[2] + gains[3] * disc[3]
    assert ndcg(PRED, TRUE) == pytest.approx(dcg / ideal * 100)
    assert ndcg(TRUE, TRUE) == pytest.approx(100.0)
    assert ndcg(PRED, TRUE, k=1) == pytest.approx(gains[1] / gains[2] * 100)


def _brute_force_expectation(predicted, true, k, metric):
    """Average the metric over every way of breaking the ties (the definition we implement)."""
    values = []
    for perm in itertools.permutations(range(len(true))):
        # rank by score, break ties by this permutation's order
        order = sorted(range(len(true)), key=lambda i: (-predicted[i], perm.index(i)))
        strict = np.empty(len(true))
        strict[order] = np.arange(len(true), 0, -1)  # distinct scores, same order
        values.append(metric(strict, true, k))
    return float(np.mean(values))


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_ties_are_the_expectation_over_tie_orders(k):
    true = np.array([0.5, 0.9, 0.7, 0.6, 0.8])
    predicted = np.array([1.0, 1.0, 1.0, 2.0, 0.0])  # three-way tie below the top pick
    got = regret_at_k(predicted, true, k)
    want = _brute_force_expectation(predicted, true, k, lambda p, t, kk: regret_at_k(p, t, kk))
    assert got == pytest.approx(want)
    got_ndcg = ndcg(predicted, true)
    want_ndcg = _brute_force_expectation(predicted, true, k, lambda p, t, kk: ndcg(p, t))
    assert got_ndcg == pytest.approx(want_ndcg, rel=1e-9)


def test_all_tied_is_a_random_order():
    true = np.array([0.2, 0.4, 0.9])
    # best of a random single pick: mean of the three
    assert expected_best_of_top_k(np.zeros(3), true, 1) == pytest.approx(0.5)
    # best of a random pair: P(max = 0.4) = 1/3, P(max = 0.9) = 2/3
    assert expected_best_of_top_k(np.zeros(3), true, 2) == pytest.approx(0.4 / 3 + 0.9 * 2 / 3)


def test_rank_correlations():
    m = selection_metrics(PRED, TRUE, baseline=0.75)
    assert m["spearman"] == pytest.approx(stats.spearmanr(PRED, TRUE).statistic)
    assert m["weighted_tau"] == pytest.approx(stats.weightedtau(TRUE, PRED).statistic)
    assert set(m) == {"regret@1", "regret@3", "regret@5", "gain@1", "ndcg", "spearman",
                      "weighted_tau"}
    assert np.isnan(selection_metrics(np.zeros(4), TRUE, baseline=None)["spearman"])
