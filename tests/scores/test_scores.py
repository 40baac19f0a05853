"""Each score against a hand-worked toy case and a naive implementation of its formula."""

from __future__ import annotations

import math

import numpy as np
import pytest

from stepstone.scores import (gbc, hscore, knn, ledoit_wolf_shrinkage, leep, nce, nleep,
                              ridge_probe, sfda, shrinkage_hscore, transrate)
from stepstone.scores.ridge import fit_ridge_loo, ridge_alphas
from stepstone.scores.sfda import fda_posteriors
from tests.scores.naive_scores import (_reference_fda, naive_gbc, naive_hscore, naive_knn,
                                       naive_lda_posteriors, naive_leep, naive_ledoit_wolf,
                                       naive_loo_ridge_errors, naive_nce, naive_nleep,
                                       naive_sfda, naive_shrinkage_hscore, naive_transrate)


def classified(n: int, d: int, c: int, *, seed: int = 0, signal: float = 1.0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, c, n)
    mix = rng.standard_normal((d, d)) * rng.uniform(0.3, 2.0, d)
    features = rng.standard_normal((n, d)) @ mix + 0.5
    features[:, : min(2, d)] += signal * labels[:, None]
    return features, labels


def softmax_rows(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


CASES = [(120, 6, 3, 0), (40, 12, 4, 1), (25, 30, 2, 2)]  # N > D, N > D, N < D


# --- H-score ---------------------------------------------------------------------------------


def test_hscore_hand_worked():
    # x = 0, 1, 2, 3 with classes 0, 0, 1, 1: Var = 1.25, centred class means ∓1 -> Σ_g = 1
    assert hscore(np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 0, 1, 1])) == \
        pytest.approx(0.8, rel=1e-12)
    # perfectly separated points reach the bound C - 1
    assert hscore(np.array([[0.0], [0.0], [2.0], [2.0]]), np.array([0, 0, 1, 1])) == \
        pytest.approx(1.0, rel=1e-12)


@pytest.mark.parametrize("n,d,c,seed", CASES)
def test_hscore_matches_naive(n, d, c, seed):
    f, y = classified(n, d, c, seed=seed)
    assert hscore(f, y) == pytest.approx(naive_hscore(f, y), rel=1e-7)
    assert 0.0 <= hscore(f, y) <= c - 1 + 1e-9


@pytest.mark.parametrize("n,d,c,seed", CASES)
def test_shrinkage_hscore_matches_naive(n, d, c, seed):
    f, y = classified(n, d, c, seed=seed)
    assert ledoit_wolf_shrinkage(f) == pytest.approx(naive_ledoit_wolf(f), rel=1e-10)
    assert shrinkage_hscore(f, y) == pytest.approx(naive_shrinkage_hscore(f, y), rel=1e-9)


def test_shrinkage_hscore_equals_hscore_without_shrinkage():
    # one feature: S is already a multiple of the identity, so α = 0
    f = np.array([[0.0], [1.0], [2.0], [3.0], [2.5]])
    y = np.array([0, 0, 1, 1, 1])
    assert ledoit_wolf_shrinkage(f) == 0.0
    assert shrinkage_hscore(f, y) == pytest.approx(hscore(f, y), rel=1e-12)


def test_hscore_is_invariant_to_invertible_affine_maps():
    # why esm-hscore cannot tell invertible ESMs apart (the method warns about it)
    f, y = classified(150, 5, 3)
    w = np.random.default_rng(4).standard_normal((5, 5)) + 2 * np.eye(5)
    assert hscore(f @ w.T + 3.0, y) == pytest.approx(hscore(f, y), rel=1e-8)
    assert shrinkage_hscore(f @ w.T + 3.0, y) != pytest.approx(shrinkage_hscore(f, y), rel=1e-3)


# --- LEEP and NCE ----------------------------------------------------------------------------


def test_leep_hand_worked():
    theta = np.array([[0.8, 0.2], [0.4, 0.6]])
    # P̂(y,z) = [[.4,.1],[.2,.3]], P̂(z) = [.6,.4]: both EEPs are 0.8·2/3 + 0.2/4 = 7/12
    assert leep(theta, np.array([0, 1])) == pytest.approx(math.log(7 / 12), rel=1e-12)


def test_leep_limits():
    y = np.array([0, 1, 2, 1, 0, 2, 2])
    assert leep(np.eye(3)[y], y) == pytest.approx(0.0, abs=1e-12)
    uniform = np.full((7, 4), 0.25)
    priors = np.bincount(y) / 7
    assert leep(uniform, y) == pytest.approx(float(np.sum(priors * np.log(priors))), rel=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_leep_and_nce_match_naive(seed):
    rng = np.random.default_rng(seed)
    theta = softmax_rows(rng.standard_normal((50, 5)) * 2)
    y = rng.integers(0, 3, 50) + 7  # any class ids
    assert leep(theta, y) == pytest.approx(naive_leep(theta, y), rel=1e-10)
    assert nce(theta, y) == pytest.approx(naive_nce(theta, y), rel=1e-10)
    assert leep(theta, y) <= 0 and nce(theta, y) <= 0


def test_nce_hand_worked():
    theta = np.eye(2)[[0, 0, 0, 1]] * 0.9 + 0.05
    y = np.array([0, 1, 0, 1])  # P̂(0,0) = ½, P̂(1,0) = ¼, P̂(1,1) = ¼; P̂(z=0) = ¾
    expected = 0.5 * math.log(2 / 3) + 0.25 * math.log(1 / 3)
    assert nce(theta, y) == pytest.approx(expected, rel=1e-12)
    assert nce(np.eye(2)[y], y) == 0.0


def test_leep_rejects_logits():
    from stepstone.errors import ScoreError

    with pytest.raises(ScoreError, match="softmax"):
        leep(np.array([[2.0, -1.0], [0.5, 0.1]]), np.array([0, 1]))


# --- NLEEP, GBC, TransRate, SFDA -----------------------------------------------------------


def test_nleep_of_well_separated_classes_is_near_zero_and_of_noise_near_the_prior_entropy():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 40)
    separated = rng.normal(0, 0.1, (120, 4)) + 10.0 * np.eye(4)[y]
    assert nleep(separated, y) == pytest.approx(0.0, abs=1e-6)
    noise = rng.standard_normal((120, 4))
    # a mixture on noise cannot predict the labels much better than the class prior
    assert nleep(noise, y) < 0.5 * np.log(1 / 3)


@pytest.mark.parametrize("n,d,c,seed", [(90, 5, 3, 0), (40, 12, 2, 1), (25, 30, 2, 2)])
def test_nleep_matches_naive(n, d, c, seed):
    f, y = classified(n, d, c, seed=seed)
    assert nleep(f, y) == nleep(f, y)  # reproducible
    for start in (123, 1):  # the default k-means start and another one
        assert nleep(f, y, seed=start) == pytest.approx(naive_nleep(f, y, seed=start),
                                                        rel=1e-6)


def test_gbc_hand_worked():
    # 1-D, classes {0, 2} and {4, 6}: means 1 and 5, variances 1 -> D_B = 16/8 = 2
    f = np.array([[0.0], [2.0], [4.0], [6.0]])
    y = np.array([0, 0, 1, 1])
    assert gbc(f, y, gaussian="diagonal") == pytest.approx(-2 * math.exp(-2), rel=1e-12)
    assert gbc(f, y) == pytest.approx(-2 * math.exp(-2), rel=1e-12)


@pytest.mark.parametrize("spherical", [True, False])
@pytest.mark.parametrize("n,d,c,seed", CASES)
def test_gbc_matches_naive(n, d, c, seed, spherical):
    f, y = classified(n, d, c, seed=seed)
    kind = "spherical" if spherical else "diagonal"
    assert gbc(f, y, pca_dim=None, gaussian=kind) == pytest.approx(
        naive_gbc(f, y, spherical=spherical), rel=1e-9)
    assert -c * (c - 1) <= gbc(f, y) <= 0


def test_gbc_pca_step_is_a_rotation_of_the_leading_components():
    f, y = classified(80, 10, 3)
    centred = f - f.mean(0)
    _, vecs = np.linalg.eigh(centred.T @ centred)
    projected = centred @ vecs[:, ::-1][:, :4]  # top-4 principal directions, any sign
    assert gbc(f, y, pca_dim=4) == pytest.approx(naive_gbc(projected, y), rel=1e-8)


def test_transrate_hand_worked():
    f = np.array([[0.0], [2.0], [-1.0], [-1.0]])  # already centred
    y = np.array([0, 0, 1, 1])
    eps = 1e-4
    expected = 0.5 * (math.log(1 + 6 / (4 * eps)) - 0.5 * math.log(1 + 4 / (2 * eps))
                      - 0.5 * math.log(1 + 2 / (2 * eps)))
    assert transrate(f, y) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("n,d,c,seed", CASES)
def test_transrate_matches_naive(n, d, c, seed):
    f, y = classified(n, d, c, seed=seed)
    assert transrate(f, y) == pytest.approx(naive_transrate(f, y), rel=1e-9)


@pytest.mark.parametrize("n,d,c,seed", CASES[:2] + [(60, 8, 2, 3)])
def test_sfda_matches_the_reference_steps(n, d, c, seed):
    f, y = classified(n, d, c, seed=seed)
    assert sfda(f, y) == pytest.approx(naive_sfda(f, y), rel=1e-7)


def test_sfda_hand_worked_in_one_dimension():
    # x = -2, 0 | 0, 2: class means ∓1, within variance 1 (one dimension: shrinking towards
    # tr(S_w)/D·I changes nothing), priors ½: p(c | x) ∝ exp(x·μ_c − μ_c²/2)
    x = np.array([-2.0, 0.0, 0.0, 2.0])
    y = np.array([0, 0, 1, 1])

    def posterior_of_own_class(values, labels):
        means = [values[labels == c].mean() for c in (0, 1)]
        within = np.mean([values[labels == c].var() for c in (0, 1)])
        logits = np.array([[v * m / within - m * m / (2 * within) for m in means]
                           for v in values])
        p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        return p[np.arange(len(values)), labels], means

    own, means = posterior_of_own_class(x, y)
    soft = np.exp(own) / (np.exp(own) + np.exp(1 - own))  # softmax over (p_own, p_other)
    others = np.array([means[1], means[1], means[0], means[0]])
    mixed = soft * x + (1 - soft) * others
    expected = posterior_of_own_class(mixed, y)[0].mean()
    assert sfda(x[:, None], y) == pytest.approx(expected, rel=1e-9)


def test_sfda_separated_classes_score_near_one():
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1], 50)
    f = rng.normal(0, 0.2, (100, 3)) + 5.0 * y[:, None]
    assert sfda(f, y) > 0.95
    assert sfda(rng.standard_normal((100, 3)), y) < 0.7


@pytest.mark.parametrize("scale", [1.0, 0.05])  # tiny (floored) and large shrinkage
def test_fda_posteriors_are_shrinkage_lda(scale):
    # coef = M S_w'^-1 : the reference's full set of generalised eigenvectors (scipy's eigh of
    # (S_b, S_w')) reduces to this, which is LDA with the shrunk within-class covariance
    f, y = classified(70, 4, 3, seed=5)
    f = f * scale
    probs, shrinkage = fda_posteriors(f, y, 3)
    within = sum(np.mean(y == c) * np.cov(f[y == c].T, bias=True) for c in range(3))
    assert shrinkage == pytest.approx(max(math.exp(-5 * np.linalg.eigvalsh(within)[-1]), 1e-10),
                                      rel=1e-9)
    assert (shrinkage > 0.1) == (scale < 1)
    np.testing.assert_allclose(probs, naive_lda_posteriors(f, y, 3, shrinkage), rtol=1e-9,
                               atol=1e-12)
    reference, reference_shrinkage = _reference_fda(f, y, 3)
    assert reference_shrinkage == pytest.approx(shrinkage, rel=1e-9)
    np.testing.assert_allclose(probs, reference, rtol=1e-7, atol=1e-10)
    # a given shrinkage is used as given
    fixed, used = fda_posteriors(f, y, 3, shrinkage=0.5)
    assert used == 0.5
    np.testing.assert_allclose(fixed, naive_lda_posteriors(f, y, 3, 0.5), rtol=1e-9, atol=1e-12)


# --- kNN and ridge ---------------------------------------------------------------------------


def test_knn_hand_worked():
    f = np.array([[0.0], [1.0], [10.0], [11.0], [12.0]])
    y = np.array([0, 0, 1, 1, 0])
    # 11's neighbours 10 and 12 tie at distance 1: the earlier example (10, class 1) wins
    assert knn(f, y, k=1) == pytest.approx(4 / 5)


@pytest.mark.parametrize("k", [1, 3, 4])
@pytest.mark.parametrize("n,d,c,seed", CASES)
def test_knn_matches_naive(n, d, c, seed, k):
    f, y = classified(n, d, c, seed=seed)
    assert knn(f, y, k=k) == pytest.approx(naive_knn(f, y, k=k), abs=1e-12)


def test_knn_regression_and_cosine():
    rng = np.random.default_rng(3)
    f = rng.standard_normal((60, 4))
    y = f[:, 0] * 2 + rng.normal(0, 0.3, 60)
    assert knn(f, y, regression=True) == pytest.approx(naive_knn(f, y, regression=True),
                                                       rel=1e-10)
    two = np.column_stack([y, -y])
    assert knn(f, two, regression=True) == pytest.approx(knn(f, y, regression=True), rel=1e-12)
    # cosine: only directions count
    scaled = f * rng.uniform(0.1, 10, (60, 1))
    labels = (f[:, 0] > 0).astype(int)
    assert knn(scaled, labels, metric="cosine") == knn(f, labels, metric="cosine")


def test_ridge_leave_one_out_errors_match_refitting():
    f, y = classified(30, 5, 3, seed=2)
    onehot = np.eye(3)[y]
    alphas = ridge_alphas(f)[[1, 3, 5]]
    fit = fit_ridge_loo(f, onehot, alphas)
    np.testing.assert_allclose(fit.loo_errors, naive_loo_ridge_errors(f, onehot, alphas),
                               rtol=1e-9)
    # N < D too (the hat matrix comes from the thin SVD)
    wide, wide_y = classified(12, 20, 2, seed=3)
    alphas = ridge_alphas(wide)
    np.testing.assert_allclose(fit_ridge_loo(wide, np.eye(2)[wide_y], alphas).loo_errors,
                               naive_loo_ridge_errors(wide, np.eye(2)[wide_y], alphas),
                               rtol=1e-8)


@pytest.mark.parametrize("n, d, rank", [(40, 6, 6), (12, 20, 12), (30, 10, 4), (8, 10, 3)])
def test_ridge_weights_solve_the_penalised_normal_equations(n, d, rank):
    """Tall, wide and rank-deficient features (rank < min(n, D): repeated directions, as a
    map of lower rank gives): the fitted map is (XcᵀXc + αI)⁻¹ Xcᵀ yc at the chosen α."""
    rng = np.random.default_rng(n + d + rank)
    f = rng.standard_normal((n, rank)) @ rng.standard_normal((rank, d)) + 3.0
    y = rng.standard_normal((n, 2))
    fit = fit_ridge_loo(f, y, ridge_alphas(f))
    xc, yc = f - f.mean(0), y - y.mean(0)
    expected = np.linalg.solve(xc.T @ xc + fit.alpha * np.eye(d), xc.T @ yc)
    np.testing.assert_allclose(fit.weights, expected, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(fit.predict(f), y.mean(0) + xc @ expected, rtol=1e-7,
                               atol=1e-9)


def test_ridge_probe_learns_a_linear_rule():
    rng = np.random.default_rng(4)
    f = rng.standard_normal((200, 5))
    assert ridge_probe(f, (f[:, 1] > 0).astype(int)) > 0.9
    assert ridge_probe(f, f @ [1.0, 2.0, 0, 0, 0] + rng.normal(0, 0.1, 200),
                       regression=True) > 0.95
    assert ridge_probe(f, rng.integers(0, 2, 200)) < 0.65
