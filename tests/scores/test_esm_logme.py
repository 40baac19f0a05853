from __future__ import annotations

import numpy as np
import pytest

from stepstone.errors import ScoreError
from stepstone.scores import TargetStats, esm_logme, logme
from tests.scores.naive import naive_logme


def _maps(rng, d: int, count: int) -> np.ndarray:
    """Near-identity ESMs A = [Wᵀ; bᵀ], shape (count, d + 1, d)."""
    maps = []
    for _ in range(count):
        w = np.eye(d) + 0.2 * rng.standard_normal((d, d))
        b = 0.3 * rng.standard_normal(d)
        maps.append(np.vstack([w.T, b]))
    return np.stack(maps)


def _mapped(features: np.ndarray, a: np.ndarray) -> np.ndarray:
    return np.hstack([features, np.ones((len(features), 1))]) @ a


@pytest.mark.parametrize("n,d,labels_kind", [
    (300, 24, "classes"),  # N > D
    (20, 32, "classes"),  # N < D
    (150, 16, "one-class"),  # a single class present
    (120, 16, "regression"),
    (18, 24, "regression"),  # regression with N < D
])
def test_fast_path_equals_logme_on_mapped_features(n, d, labels_kind):
    rng = np.random.default_rng(n + d)
    features = rng.standard_normal((n, d)) + 0.2
    if labels_kind == "classes":
        labels, regression = rng.integers(0, 4, n), False
    elif labels_kind == "one-class":
        labels, regression = np.zeros(n, dtype=int), False
    else:
        labels, regression = features[:, 0] * 2 + rng.normal(0, 0.5, n), True
    maps = _maps(rng, d, 5)
    stats = TargetStats.from_features(features, labels, regression=regression)
    fast = esm_logme(stats, maps)
    for a, score in zip(maps, fast):
        mapped = _mapped(features, a)
        assert score == pytest.approx(logme(mapped, labels, regression=regression), rel=1e-8)
        assert score == pytest.approx(naive_logme(mapped, labels, regression=regression),
                                      rel=1e-7)


def test_block_results_do_not_depend_on_block_composition():
    rng = np.random.default_rng(7)
    features = rng.standard_normal((100, 12))
    labels = rng.integers(0, 3, 100)
    stats = TargetStats.from_features(features, labels)
    maps = _maps(rng, 12, 6)
    together = esm_logme(stats, maps)
    one_by_one = np.concatenate([esm_logme(stats, maps[i:i + 1]) for i in range(6)])
    np.testing.assert_allclose(together, one_by_one, rtol=1e-12)


def test_rank_deficient_map_is_scored_correctly():
    rng = np.random.default_rng(8)
    features = rng.standard_normal((90, 10))
    labels = rng.integers(0, 2, 90)
    a = _maps(rng, 10, 1)[0]
    a[:, -2:] = 0.0  # two output dimensions always zero (like MiniLM's dead dimensions)
    stats = TargetStats.from_features(features, labels)
    fast = esm_logme(stats, a[None])[0]
    assert fast == pytest.approx(naive_logme(_mapped(features, a), labels), rel=1e-8)


def test_wrong_map_shape_is_an_error():
    stats = TargetStats.from_features(np.ones((4, 3)) + np.eye(4, 3), np.array([0, 1, 0, 1]))
    with pytest.raises(ScoreError, match="maps must be"):
        esm_logme(stats, np.ones((2, 3, 3)))
