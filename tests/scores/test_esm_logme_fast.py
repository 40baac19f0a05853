"""The fast ESM-LogME paths (tridiagonal LAPACK, torch) against the naive evidence."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from stepstone.scores import TargetStats, esm_logme
from stepstone.scores.esm_logme.scorer import ESMLogMEScorer, ScoreBackend
from stepstone.scores.esm_logme.fast import esm_logme_fast, tridiagonalize
from stepstone.scores.logme import evidence
from stepstone.scores.esm_logme.tridiagonal import tridiagonal_evidence
from tests.scores.naive import naive_logme

# the package exports the function under the module's name
fast_module = importlib.import_module("stepstone.scores.esm_logme.fast")


def _maps(rng, d: int, count: int, scale: float = 0.2) -> np.ndarray:
    """Near-identity ESMs A = [Wᵀ; bᵀ], shape (count, d + 1, d)."""
    return np.stack([np.vstack([(np.eye(d) + scale * rng.standard_normal((d, d))).T,
                                0.3 * rng.standard_normal(d)]) for _ in range(count)])


def _mapped(features: np.ndarray, a: np.ndarray) -> np.ndarray:
    return np.hstack([features, np.ones((len(features), 1))]) @ np.asarray(a, np.float64)


def _case(kind: str, n: int, d: int, seed: int):
    rng = np.random.default_rng(seed)
    features = rng.standard_normal((n, d)) * 0.5 + 0.2
    regression = kind.startswith("regression")
    if kind == "classes":
        labels = rng.integers(0, 5, n)
    elif kind == "one-class":
        labels = np.full(n, 3)
    elif kind == "regression":
        labels = features[:, 0] * 2 + rng.normal(0, 0.5, n)
    elif kind == "regression-2d":
        labels = np.stack([features[:, 1] - features[:, 2], rng.normal(0, 1, n)], axis=1)
    elif kind == "dead-dims":  # like MiniLM: embedding dimensions that are always zero
        features[:, -2:] = 0.0
        labels = rng.integers(0, 3, n)
    else:
        raise AssertionError(kind)
    return features, labels, regression, rng


CASES = [
    ("classes", 300, 24),  # N > D
    ("classes", 20, 32),  # N < D
    ("one-class", 150, 16),  # a single class present
    ("regression", 120, 16),
    ("regression", 18, 24),  # regression with N < D
    ("regression-2d", 90, 12),  # several regression outputs
    ("dead-dims", 200, 20),  # rank-deficient features, full-size maps
    ("classes", 7, 1),  # D = 1
]


@pytest.mark.parametrize("kind,n,d", CASES)
def test_fast_path_equals_naive_logme_on_mapped_features(kind, n, d):
    features, labels, regression, rng = _case(kind, n, d, seed=n + d)
    maps = _maps(rng, d, 4)
    stats = TargetStats.from_features(features, labels, regression=regression)
    fast = esm_logme_fast(stats, maps)
    for a, score in zip(maps, fast):
        naive = naive_logme(_mapped(features, a), labels, regression=regression)
        assert score == pytest.approx(naive, rel=1e-8)


def test_rank_deficient_maps_keep_the_log_alpha_term():
    """Maps with dead output dimensions: the evidence counts all D eigenvalues, zeros included
    (the naive reference uses an explicit D x D log-determinant)."""
    features, labels, _, rng = _case("classes", 90, 10, seed=8)
    maps = _maps(rng, 10, 3)
    maps[:, :, -2:] = 0.0
    fast = esm_logme_fast(TargetStats.from_features(features, labels), maps)
    naive = [naive_logme(_mapped(features, a), labels) for a in maps]
    np.testing.assert_allclose(fast, naive, rtol=1e-8)


def test_float16_maps_are_scored_like_their_float64_values():
    features, labels, _, rng = _case("classes", 200, 16, seed=3)
    maps = _maps(rng, 16, 3).astype(np.float16)
    stats = TargetStats.from_features(features, labels)
    np.testing.assert_allclose(esm_logme_fast(stats, maps),
                               esm_logme(stats, maps.astype(np.float64)), rtol=1e-10)


def test_stats_from_a_gram_alone_give_the_same_scores():
    features, labels, _, rng = _case("classes", 150, 12, seed=5)
    full = TargetStats.from_features(features, labels)
    from_gram = TargetStats(gram=full.gram, cross=full.cross, y_sq=full.y_sq, n=full.n)
    assert np.allclose(from_gram.factor.T @ from_gram.factor, full.gram, rtol=1e-10, atol=1e-8)
    maps = _maps(rng, 12, 3)
    np.testing.assert_allclose(esm_logme_fast(from_gram, maps), esm_logme_fast(full, maps),
                               rtol=1e-9)


def test_tridiagonal_evidence_equals_the_spectral_evidence():
    """Independent of ESMs: PSD tridiagonal T = LLᵀ (L lower bidiagonal; one singular) and
    projections c in T's range, against evidence() on T's eigenvalues and (Uᵀc)²/σ."""
    rng = np.random.default_rng(11)
    d, k, n = 9, 3, 40
    lower = rng.uniform(0.3, 2.0, (2, d))
    sub = rng.uniform(-1.0, 1.0, (2, d - 1))
    lower[1, -1] = 0.0  # T_1 is singular
    diag = lower**2 + np.pad(sub**2, ((0, 0), (1, 0)))
    off = lower[:, :-1] * sub
    tri = [np.diag(diag[b]) + np.diag(off[b], 1) + np.diag(off[b], -1) for b in range(2)]
    proj = np.stack([t @ rng.standard_normal((d, k)) for t in tri])
    spectra = []
    for b in range(2):
        sigma, vecs = np.linalg.eigh(tri[b])
        keep = sigma > 1e-10
        x2 = np.where(keep[:, None], (vecs.T @ proj[b]) ** 2 / np.where(keep, sigma, 1)[:, None],
                      0.0)
        spectra.append((np.where(keep, sigma, 0.0), x2))
    y_sq = np.max([x2.sum(0) for _, x2 in spectra], axis=0) + 5.0
    got = tridiagonal_evidence(diag, off, proj, y_sq, n=n)
    for b, (sigma, x2) in enumerate(spectra):
        np.testing.assert_allclose(got[b], evidence(sigma, x2, y_sq, n=n, d=d), rtol=1e-9)


def test_lanes_that_fail_the_tridiagonal_path_are_recomputed(monkeypatch):
    features, labels, _, rng = _case("classes", 120, 8, seed=2)
    maps = _maps(rng, 8, 3)
    stats = TargetStats.from_features(features, labels)
    original = fast_module.tridiagonal_evidence

    def failing(*args, **kwargs):
        ev = original(*args, **kwargs)
        ev[1, 0] = np.nan  # as if T + tI had a non-positive pivot
        return ev

    monkeypatch.setattr(fast_module, "tridiagonal_evidence", failing)
    np.testing.assert_allclose(esm_logme_fast(stats, maps), esm_logme(stats, maps), rtol=1e-9)


def test_a_non_finite_map_scores_nan_without_stopping_the_others():
    features, labels, _, rng = _case("classes", 100, 8, seed=9)
    maps = _maps(rng, 8, 3)
    maps[1, 2, 3] = np.inf
    stats = TargetStats.from_features(features, labels)
    scores = esm_logme_fast(stats, maps)
    assert np.isnan(scores[1])
    np.testing.assert_allclose(scores[[0, 2]], esm_logme(stats, maps[[0, 2]]), rtol=1e-9)


def test_tridiagonal_form_preserves_the_spectrum_and_projections():
    features, labels, _, rng = _case("classes", 80, 6, seed=4)
    a = _maps(rng, 6, 1)
    stats = TargetStats.from_features(features, labels)
    tri = tridiagonalize(stats, a)
    t = np.diag(tri.diag[0]) + np.diag(tri.off[0], 1) + np.diag(tri.off[0], -1)
    mapped_gram = a[0].T @ stats.gram @ a[0]
    np.testing.assert_allclose(np.linalg.eigvalsh(t), np.linalg.eigvalsh(mapped_gram),
                               rtol=1e-9, atol=1e-9)
    # ‖c‖ = ‖AᵀZ‖ column by column: Q is orthogonal
    np.testing.assert_allclose(np.linalg.norm(tri.proj[0], axis=0),
                               np.linalg.norm(a[0].T @ stats.cross, axis=0), rtol=1e-10)


@pytest.mark.parametrize("backend,workers", [("lapack", 1), ("lapack", 3), ("torch", None),
                                             ("reference", None)])
def test_every_backend_scores_streams_of_blocks_alike(backend, workers):
    features, labels, _, rng = _case("classes", 160, 12, seed=6)
    maps = _maps(rng, 12, 37).astype(np.float16)
    stats = TargetStats.from_features(features, labels)
    expected = esm_logme(stats, maps.astype(np.float64))
    scorer = ESMLogMEScorer(stats, backend=backend, device="cpu", workers=workers)
    blocks = [(start, maps[start:start + size]) for start, size in
              ((0, 5), (5, 20), (25, 1), (26, 11))]  # uneven blocks, more than a task each
    got = list(scorer.score_blocks(iter(blocks)))
    assert [tag for tag, _ in got] == [0, 5, 25, 26]
    np.testing.assert_allclose(np.concatenate([s for _, s in got]), expected, rtol=1e-9)
    np.testing.assert_allclose(scorer(maps[:4]), expected[:4], rtol=1e-9)


def test_auto_backend_uses_lapack_on_cpu_and_torch_on_cuda():
    stats = TargetStats.from_features(np.eye(6, 3) + 0.1, np.array([0, 1, 0, 1, 0, 1]))
    assert ESMLogMEScorer(stats, device="cpu").backend is ScoreBackend.LAPACK
    assert ESMLogMEScorer(stats, backend="reference").backend is ScoreBackend.REFERENCE
    from stepstone.scores.esm_logme.scorer import _resolve

    assert _resolve(ScoreBackend.AUTO, "cuda:1") == (ScoreBackend.TORCH, "cuda:1")


def test_worker_count_comes_from_the_environment(monkeypatch):
    from stepstone.errors import InvalidOptionError
    from stepstone.scores.esm_logme.scorer import default_workers

    monkeypatch.setenv("STEPSTONE_WORKERS", "3")
    assert default_workers() == 3
    monkeypatch.setenv("STEPSTONE_WORKERS", "two")
    with pytest.raises(InvalidOptionError, match="STEPSTONE_WORKERS"):
        default_workers()
