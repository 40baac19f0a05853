"""Bootstrap intervals, paired tests and the noise ceiling on grids with a known answer."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from stepstone.bench.metrics import ndcg, regret_at_k, selection_metrics, spearman
from stepstone.bench.uncertainty import (TargetTruth, batch_metrics, bootstrap, noise_ceiling,
                                         sign_flip_p)


def _truths(rng, targets: int, sources: int = 8, seeds: int = 3, noise: float = 0.0):
    out = []
    for t in range(targets):
        means = rng.uniform(0.5, 0.9, sources)
        cells = means[:, None] + noise * rng.normal(size=(sources, seeds))
        base = rng.uniform(0.5, 0.9) + noise * rng.normal(size=seeds)
        out.append(TargetTruth(name=f"t{t}", sources=tuple(f"s{i}" for i in range(sources)),
                               seeds=cells, baseline=base))
    return out


def test_batch_metrics_match_the_scalar_definitions():
    rng = np.random.default_rng(0)
    true = rng.uniform(0.4, 0.9, (6, 7))
    base = rng.uniform(0.4, 0.9, 6)
    for predicted in (rng.normal(size=7), np.array([3, 3, 1, 1, 1, 0, 2.0]), np.zeros(7)):
        batch = batch_metrics(predicted, true, base)
        for r in range(6):
            scalar = selection_metrics(predicted, true[r], baseline=base[r])
            for name in ("regret@1", "regret@3", "regret@5", "gain@1", "ndcg"):
                assert batch[name][r] == pytest.approx(scalar[name], rel=1e-12, abs=1e-12)
            expected = scalar["spearman"]
            if np.isnan(expected):
                assert np.isnan(batch["spearman"][r])
            else:
                assert batch["spearman"][r] == pytest.approx(expected, rel=1e-12)


def test_resampling_draws_each_cells_own_seeds():
    seeds = np.array([[1.0, 1.0, 1.0], [0.0, 1.0, np.nan]])
    truth = TargetTruth(name="t", sources=("a", "b"), seeds=seeds, baseline=np.array([0.5]))
    true, base = truth.resample(np.random.default_rng(0), 4000)
    assert np.all(true[:, 0] == 1.0) and np.all(base == 0.5)
    # the second cell has two seeds: its resampled means are 0, 0.5 or 1 with prob 1/4, 1/2, 1/4
    values, counts = np.unique(true[:, 1], return_counts=True)
    assert values.tolist() == [0.0, 0.5, 1.0]
    assert counts / 4000 == pytest.approx([0.25, 0.5, 0.25], abs=0.03)


def test_a_perfect_ranking_has_zero_regret_with_a_zero_width_interval():
    truths = _truths(np.random.default_rng(1), targets=6, noise=0.0)  # seeds agree exactly
    perfect = {"oracle": {t.name: t.means()[0] for t in truths}}
    boot = bootstrap(truths, perfect, replicates=300)
    for metric in ("regret@1", "regret@3", "regret@5"):
        mean, low, high, n = boot.interval("oracle", metric)
        assert n == 6
        # the baseline may beat every source: then even a perfect pick has that regret
        expected = np.mean([max(0.0, (max(t.means()[1], t.means()[0].max()) - t.means()[0].max())
                                / max(t.means()[1], t.means()[0].max()) * 100) for t in truths])
        assert mean == pytest.approx(expected)
    truths = [TargetTruth(t.name, t.sources, t.seeds, np.array([0.0])) for t in truths]
    boot = bootstrap(truths, perfect, replicates=300)
    mean, low, high, _ = boot.interval("oracle", "regret@1")
    assert mean == low == high == 0.0
    mean, low, high, _ = boot.interval("oracle", "ndcg")
    assert mean == pytest.approx(100.0) and low == pytest.approx(100.0) == high
    # the oracle's pick gains its best source's result over the (zero) baseline, in points
    mean, _, _, _ = boot.interval("oracle", "gain@1")
    assert mean == pytest.approx(np.mean([100 * t.means()[0].max() for t in truths]))
    mean, low, high, _ = boot.interval("no transfer", "gain@1")
    assert mean == low == high == 0.0


def test_a_random_rankings_interval_covers_the_exact_expectation():
    rng = np.random.default_rng(2)
    truths = _truths(rng, targets=40, noise=0.02)
    random = {"random": {t.name: rng.normal(size=len(t.sources)) for t in truths}}
    boot = bootstrap(truths, random, replicates=1000)
    for metric in ("regret@1", "regret@3", "gain@1", "ndcg"):
        _, low, high, _ = boot.interval("random", metric)
        expected, _, _, _ = boot.interval("random (expected)", metric)
        assert low <= expected <= high, metric
    # and the exact expectation itself is what enumerating all orders gives, on one target
    t = truths[0]
    true, base = t.means()
    orders = list(itertools.permutations(range(5)))
    small = true[:5]
    enumerated = np.mean([regret_at_k(-np.argsort(o).astype(float), small, 1, baseline=base)
                          for o in orders])
    exact = batch_metrics(np.zeros(5), small[None], np.array([base]))["regret@1"][0]
    assert exact == pytest.approx(enumerated)


def test_paired_comparison_and_permutation_p():
    rng = np.random.default_rng(3)
    truths = _truths(rng, targets=10, noise=0.01)
    perfect = {t.name: t.means()[0] for t in truths}
    reversed_ = {t.name: -t.means()[0] for t in truths}
    boot = bootstrap(truths, {"good": perfect, "bad": reversed_}, replicates=500)
    row = boot.paired("good", "bad", "ndcg")
    assert row["targets"] == 10 and row["mean_diff"] > 0 and row["low"] > 0
    assert row["reference_better"] == 10 and row["other_better"] == 0
    assert row["p_permutation"] == pytest.approx(2 / 2 ** 10)  # only all-plus / all-minus
    regret = boot.paired("good", "bad", "regret@1")
    assert regret["mean_diff"] < 0 and regret["reference_better"] >= 1
    # exact sign-flip p by enumeration, and the random version for many targets
    d = np.array([0.5, -0.2, 0.3, 0.1])
    flips = [abs(np.dot(s, d)) / 4 for s in itertools.product((1, -1), repeat=4)]
    assert sign_flip_p(d) == pytest.approx(np.mean(np.array(flips) >= abs(d.mean()) - 1e-12))
    assert sign_flip_p(np.zeros(5)) == 1.0
    assert sign_flip_p(np.full(30, 1.0)) < 1e-3


def test_noise_ceiling():
    # noiseless seeds: one seed's results are the truth, the ceiling is perfect
    truths = _truths(np.random.default_rng(4), targets=1, noise=0.0)
    truth = TargetTruth("t", truths[0].sources, truths[0].seeds, np.zeros(3))
    ceiling = noise_ceiling(truth)
    assert ceiling["regret@1"] == 0.0 and ceiling["ndcg"] == pytest.approx(100.0)
    assert ceiling["spearman"] == pytest.approx(1.0)
    # hand-worked: seeds [[1, 0], [0, 1]]: seed 0 ranks a first, judged by seed 1 (b best)
    truth = TargetTruth("t", ("a", "b"), np.array([[0.9, 0.5], [0.5, 0.9]]), np.zeros(2))
    expected_regret = (0.9 - 0.5) / 0.9 * 100
    assert noise_ceiling(truth)["regret@1"] == pytest.approx(expected_regret)
    assert noise_ceiling(truth)["spearman"] == pytest.approx(-1.0)
    # the pick (0.5 under the judging seed) against a baseline of 0: +50 points
    assert noise_ceiling(truth)["gain@1"] == pytest.approx(50.0)
    assert noise_ceiling(truth)["ndcg"] == pytest.approx(ndcg(np.array([1.0, 0.0]),
                                                              np.array([0.5, 0.9])))
    assert spearman(np.array([1.0, 0.0]), np.array([0.5, 0.9])) == pytest.approx(-1.0)
    one_seed = TargetTruth("t", ("a", "b"), np.array([[0.9], [0.5]]), np.array([0.1]))
    assert np.isnan(noise_ceiling(one_seed)["regret@1"])


def _naive_gain_at_k(predicted, true, baseline, k):
    """Average over every order of the tied sources of (best of the first k - baseline)."""
    groups = {}
    for i, p in enumerate(predicted):
        groups.setdefault(p, []).append(i)
    blocks = [groups[p] for p in sorted(groups, reverse=True)]
    orders = [sum(choice, []) for choice in
              itertools.product(*[list(map(list, itertools.permutations(b))) for b in blocks])]
    return np.mean([(max(true[o[:k]]) - baseline) * 100 for o in orders])


def test_gain_at_k_is_the_best_of_the_first_k_picks_with_ties_averaged():
    rng = np.random.default_rng(3)
    true = rng.uniform(0.4, 0.9, (3, 6))
    base = rng.uniform(0.4, 0.9, 3)
    for predicted in (rng.normal(size=6), np.array([2, 2, 2, 1, 1, 0.0]), np.zeros(6)):
        batch = batch_metrics(predicted, true, base)
        for r in range(3):
            for k in range(1, 6):
                assert batch[f"gain@{k}"][r] == pytest.approx(
                    _naive_gain_at_k(predicted, true[r], base[r], k), rel=1e-10, abs=1e-10)
    # trying more picks never lowers the best found
    gains = np.array([batch[f"gain@{k}"] for k in range(1, 6)])
    assert np.all(np.diff(gains, axis=0) >= -1e-12)


def test_a_perfect_ranking_gains_the_best_source_at_every_k():
    truths = _truths(np.random.default_rng(4), targets=5, noise=0.0)
    boot = bootstrap(truths, {"oracle": {t.name: t.means()[0] for t in truths}}, replicates=50)
    best = np.mean([(t.means()[0].max() - t.means()[1]) * 100 for t in truths])
    for k in range(1, 6):
        assert boot.interval("oracle", f"gain@{k}")[0] == pytest.approx(best)
        assert boot.interval("no transfer", f"gain@{k}")[:3] == (0.0, 0.0, 0.0)
