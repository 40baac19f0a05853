"""The coverage objective's lazy greedy (same picks as plain greedy, within (1 − 1/e) of the
brute-force optimum), MS-LEEP, and the Fréchet domain divergence."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest
import scipy.linalg

from stepstone.errors import ScoreError
from stepstone.scores import leep
from stepstone.scores.coverage import (coverage_value, lazy_greedy_coverage,
                                       plain_greedy_coverage)
from stepstone.scores.divergence import GaussianFit, fit_gaussian, frechet_distance
from stepstone.scores.msleep import expected_predictions, greedy_ms_leep, ms_leep
from stepstone.scores.pool import min_max


def instance(m: int, seed: int):
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(m, 4))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return rng.normal(size=m), vectors @ vectors.T


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("weight", [0.1, 1.0, 5.0])
def test_lazy_greedy_equals_plain_greedy_and_is_within_1_minus_1_over_e(seed, weight):
    scores, sim = instance(9, seed)
    picks, gains = lazy_greedy_coverage(scores, sim, k=3, weight=weight)
    assert picks == plain_greedy_coverage(scores, sim, k=3, weight=weight)
    quality = min_max(scores)
    value = coverage_value(quality, sim, picks, weight=weight)
    assert sum(gains) == pytest.approx(value)  # marginal gains add up to F(S)
    best = max(coverage_value(quality, sim, list(s), weight=weight)
               for s in combinations(range(9), 3))
    assert value >= (1 - 1 / np.e) * best - 1e-12
    assert all(a >= b - 1e-12 for a, b in zip(gains, gains[1:]))  # submodular: gains shrink


def test_coverage_hand_worked():
    # two near-duplicates (0, 1) and a distinct source (2); scores 1, 0.9, 0
    sim = np.array([[1.0, 0.95, 0.0], [0.95, 1.0, 0.0], [0.0, 0.0, 1.0]])
    scores = np.array([1.0, 0.9, 0.0])
    # weight 0: plain top-2; weight 1: the second pick covers source 2 (gain 1) rather than
    # source 1 (gain 0.9 + 0.05)
    assert lazy_greedy_coverage(scores, sim, k=2, weight=0.0)[0] == [0, 1]
    picks, gains = lazy_greedy_coverage(scores, sim, k=2, weight=1.0)
    assert picks == [0, 2] and gains == pytest.approx([1.0 + 1.95, 0.0 + 1.0])


def test_coverage_rejects_bad_shapes():
    with pytest.raises(ScoreError, match="coverage"):
        lazy_greedy_coverage(np.zeros(3), np.zeros((2, 2)), k=1)


# --- MS-LEEP -----------------------------------------------------------------------------------

def heads(n: int, seed: int, sources: int = 3):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    out = []
    for _ in range(sources):
        logits = rng.normal(size=(n, 4))
        logits[np.arange(n), labels] += rng.uniform(0, 3)
        e = np.exp(logits)
        out.append(e / e.sum(1, keepdims=True))
    return out, labels


def test_ms_leep_of_one_source_is_its_leep_and_of_two_the_mean_inside_the_log():
    probs, labels = heads(50, 0)
    eeps = np.vstack([expected_predictions(p, labels) for p in probs])
    assert ms_leep(eeps[:1]) == pytest.approx(leep(probs[0], labels))
    expected = np.mean(np.log((eeps[0] + eeps[2]) / 2))
    assert ms_leep(eeps[[0, 2]]) == pytest.approx(expected)


def test_greedy_ms_leep_hand_worked():
    eeps = np.array([[0.9, 0.1], [0.1, 0.9], [0.5, 0.5]])
    # alone: log .5 (source 2) beats ½(log .9 + log .1); then adding 0 or 1 gives ½ log(.7·.3)
    picks, gains = greedy_ms_leep(eeps, k=2)
    assert picks == [2, 0]
    assert gains == pytest.approx([np.log(0.5), np.mean(np.log([0.7, 0.3])) - np.log(0.5)])


# --- domain divergence -------------------------------------------------------------------------

def naive_frechet(a, b):
    ma, mb = a.mean(0), b.mean(0)
    ca, cb = np.cov(a.T, bias=True), np.cov(b.T, bias=True)
    root = scipy.linalg.sqrtm(scipy.linalg.sqrtm(ca) @ cb @ scipy.linalg.sqrtm(ca))
    return float(np.sum((ma - mb) ** 2) + np.trace(ca) + np.trace(cb) - 2 * np.trace(root).real)


def test_frechet_hand_worked_one_dimension():
    # N(0, 1) vs N(3, 4) samples with exact moments: (0 − 3)² + (1 − 2)² = 10
    a = np.array([[-1.0], [1.0]])
    b = np.array([[1.0], [5.0]])
    assert frechet_distance(fit_gaussian(a), b) == pytest.approx(10.0)


@pytest.mark.parametrize("n,d", [(200, 5), (8, 12)])
def test_frechet_full_rank_equals_the_matrix_square_root_formula(n, d):
    rng = np.random.default_rng(3)
    a = rng.normal(size=(n, d)) @ rng.normal(size=(d, d))
    b = rng.normal(size=(n + 5, d)) + 0.5
    assert frechet_distance(fit_gaussian(a), b) == pytest.approx(naive_frechet(a, b), rel=1e-6)
    assert frechet_distance(fit_gaussian(b), b) == pytest.approx(0.0, abs=1e-8)


def test_low_rank_fit_keeps_the_trace_and_survives_storage():
    rng = np.random.default_rng(4)
    a = rng.normal(size=(300, 10)) * np.linspace(3, 0.1, 10)
    fit = fit_gaussian(a, rank=4)
    assert np.trace(fit.covariance()) == pytest.approx(np.trace(np.cov(a.T, bias=True)))
    stored = GaussianFit.from_tensors(fit.to_tensors())
    b = rng.normal(size=(100, 10))
    assert frechet_distance(stored, b) == pytest.approx(frechet_distance(fit, b), rel=1e-3)
    with pytest.raises(ScoreError, match="rank"):
        fit_gaussian(a, rank=11)
    with pytest.raises(ScoreError, match="dims"):
        frechet_distance(fit, b[:, :3])
