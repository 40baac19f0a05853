from __future__ import annotations

import numpy as np
import pytest

from stepstone.errors import ScoreError
from stepstone.scores.nleep import reduce_by_pca
from stepstone.scores.selection import (greedy_diverse, mapped_gram_sketches,
                                        reciprocal_rank_fusion, taskemb_scores, zscore_fusion)


def test_reciprocal_rank_fusion_hand_worked():
    scores = np.array([[3.0, 2.0, 1.0],   # ranks 1 2 3
                       [1.0, 3.0, 3.0]])  # ranks 3 1.5 1.5 (ties share the average rank)
    expected = [1 / 61 + 1 / 63, 1 / 62 + 1 / 61.5, 1 / 63 + 1 / 61.5]
    np.testing.assert_allclose(reciprocal_rank_fusion(scores), expected, rtol=1e-12)


def test_zscore_fusion_hand_worked():
    scores = np.array([[1.0, 2.0, 3.0], [10.0, 10.0, 10.0], [0.0, 0.0, 6.0]])
    z1 = (np.array([1, 2, 3]) - 2) / np.sqrt(2 / 3)
    z3 = (np.array([0, 0, 6]) - 2) / np.sqrt(8)
    np.testing.assert_allclose(zscore_fusion(scores), (z1 + 0 + z3) / 3, rtol=1e-12)
    with pytest.raises(ScoreError):
        zscore_fusion(np.array([[1.0, np.nan]]))


def test_greedy_diverse_hand_worked():
    scores = np.array([1.0, 0.9, 0.5, 0.0])
    sim = np.eye(4)
    sim[0, 1] = sim[1, 0] = 0.9  # 1 duplicates 0
    picks, redundancy = greedy_diverse(scores, sim, k=3, tradeoff=1.0)
    # q = [1, .9, .5, 0]; after 0: gains .9-.9 = 0, .5, 0 -> 2; then 1: 0, 3: 0 -> first max (1)
    assert picks == [0, 2, 1] and redundancy == [0.0, 0.0, 0.9]
    assert greedy_diverse(scores, sim, k=3, tradeoff=0.0)[0] == [0, 1, 2]
    assert greedy_diverse(scores, sim, k=10)[0].__len__() == 4
    with pytest.raises(ScoreError):
        greedy_diverse(scores, np.eye(3), k=2)


def linear_cka(x, y):
    x, y = x - x.mean(0), y - y.mean(0)
    return np.linalg.norm(x.T @ y) ** 2 / (np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y))


@pytest.mark.parametrize("n,d", [(50, 6), (5, 8)])
def test_mapped_gram_sketches_give_linear_cka_of_mapped_features(n, d):
    rng = np.random.default_rng(n)
    f = rng.standard_normal((n, d)) + 1.0
    maps = np.stack([np.vstack([rng.standard_normal((d, d)), rng.standard_normal((1, d))])
                     for _ in range(3)])
    sketches = mapped_gram_sketches(f, maps).astype(np.float64)
    f_aug = np.hstack([f, np.ones((n, 1))])
    for i in range(3):
        for j in range(3):
            assert sketches[i] @ sketches[j] == pytest.approx(
                linear_cka(f_aug @ maps[i], f_aug @ maps[j]), rel=1e-5)


def test_taskemb_scores_fuse_per_component_cosines():
    target = {"a": np.array([1.0, 0.0]), "b": np.array([0.0, 1.0])}
    sources = [{"a": np.array([1.0, 0.0]), "b": np.array([1.0, 0.0])},   # cos a=1, b=0
               {"a": np.array([1.0, 1.0]), "b": np.array([0.0, 2.0])}]   # cos a=.71, b=1
    np.testing.assert_allclose(taskemb_scores(target, sources),
                               [1 / 61 + 1 / 62, 1 / 62 + 1 / 61])
    with pytest.raises(ScoreError, match="components"):
        taskemb_scores(target, [{"a": np.ones(2)}])


def test_reduce_by_pca_keeps_enough_components_and_handles_constant_data():
    rng = np.random.default_rng(0)
    blobs = np.vstack([rng.normal(c, 0.1, (30, 3)) for c in (0.0, 5.0, 10.0)])
    projected = reduce_by_pca(blobs, 0.8)
    assert projected.shape == (90, 1)  # the blobs lie along one line
    np.testing.assert_allclose(projected.mean(0), 0.0, atol=1e-10)
    assert reduce_by_pca(np.ones((5, 3)), 0.8).shape == (5, 1)
