"""ETran, NCTI, PED, TMI, PARC and LFC against hand-worked cases and naive implementations
(explicit loops / N × N matrices / textbook formulas), N < D and one-example classes included."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
from scipy.special import digamma, logsumexp
from scipy.stats import spearmanr

from stepstone.errors import ScoreError
from stepstone.scores import etran, etran_terms, lfc, logme, ncti, ncti_terms, parc, ped, tmi
from stepstone.scores.etran import fit_shrinkage_lda, lda_scatter
from stepstone.scores.ped import descend
from stepstone.scores.pool import combine_pool, min_max
from stepstone.scores.sfda import fda_posteriors
from stepstone.scores.tmi import kl_entropy

#: (N, D, classes): N > D, N < D, and a class with a single example (added below)
SHAPES = [(80, 6, 3), (12, 30, 3), (25, 8, 4)]


def data(n: int, d: int, c: int, *, seed: int = 0, single: bool = True):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % (c - 1) if single else np.arange(n) % c
    if single:
        labels[-1] = c - 1  # one example of the last class
    rng.shuffle(labels)
    x = rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) * 0.3
    x[:, :2] += labels[:, None] * 0.8
    return x, labels


# --- LFC ---------------------------------------------------------------------------------------

def naive_lfc(x, labels=None, y=None):
    """Explicit N × N alignment of HK_FH and HK_YH (±1 label kernel, or yyᵀ)."""
    n = len(x)
    h = np.eye(n) - np.ones((n, n)) / n
    kf = h @ (x @ x.T) @ h
    if y is None:
        ky = np.array([[1.0 if a == b else -1.0 for b in labels] for a in labels])
    else:
        ky = np.outer(y, y)
    ky = h @ ky @ h
    return float(np.sum(kf * ky) / (np.linalg.norm(kf) * np.linalg.norm(ky)))


def test_lfc_hand_worked():
    # F₀ = (−1.5, −.5, .5, 1.5), Y₀ columns ∓(.5, .5, −.5, −.5)ᵀ: ‖Y₀ᵀF₀‖² = 8, ‖F₀ᵀF₀‖ = 5,
    # ‖Y₀ᵀY₀‖_F = 2 -> 8 / 10
    assert lfc(np.arange(4.0)[:, None], np.array([0, 0, 1, 1])) == pytest.approx(0.8)


@pytest.mark.parametrize("shape", SHAPES)
def test_lfc_fast_form_equals_the_explicit_kernel_alignment(shape):
    x, labels = data(*shape)
    assert lfc(x, labels) == pytest.approx(naive_lfc(x, labels), rel=1e-10)


def test_lfc_regression_is_linear_cka():
    x, _ = data(40, 5, 2, single=False)
    y = x[:, 0] + np.random.default_rng(1).normal(size=40)
    assert lfc(x, y, regression=True) == pytest.approx(naive_lfc(x, y=y), rel=1e-10)


# --- TMI ---------------------------------------------------------------------------------------

def naive_kl(x, k=3, min_dist=1.0):
    n, d = x.shape
    if n <= 1:
        return 0.0
    k = min(k, n - 1)
    rho = []
    for i in range(n):
        dist = sorted(max(abs(x[i] - x[j])) for j in range(n) if j != i)
        rho.append(max(dist[k - 1], min_dist))
    return -digamma(k) + digamma(n) + d * np.mean(np.log(2 * np.array(rho)))


def test_kl_entropy_hand_worked():
    # k = 1 neighbours of 0, 2, 5, 9 are 2, 2, 3, 4; −ψ(1) + ψ(4) = 1 + 1/2 + 1/3
    x = np.array([[0.0], [2.0], [5.0], [9.0]])
    expected = 11 / 6 + np.mean(np.log([4.0, 4.0, 6.0, 8.0]))
    assert kl_entropy(x, k=1, min_dist=0.0) == pytest.approx(expected)


@pytest.mark.parametrize("shape", SHAPES)
def test_tmi_equals_a_brute_force_knn_entropy(shape):
    x, labels = data(*shape)
    z = (x - x.mean(0)) / x.std(0)
    classes = np.unique(labels)
    expected = sum((labels == c).mean() * naive_kl(z[labels == c]) for c in classes)
    assert tmi(x, labels) == pytest.approx(expected / len(classes), rel=1e-10)


def test_tmi_one_example_class_adds_nothing():
    x, labels = data(30, 4, 3)  # last class has one example
    rest = labels < 2
    z = (x - x.mean(0)) / x.std(0)
    expected = sum((labels == c).mean() * naive_kl(z[labels == c]) for c in (0, 1)) / 3
    assert tmi(x, labels) == pytest.approx(expected)
    assert rest.sum() == 29


# --- PARC --------------------------------------------------------------------------------------

def naive_parc(x, labels, k=32):
    xc = x - x.mean(0)
    u, s, vt = np.linalg.svd(xc, full_matrices=False)
    # row correlations change when a principal axis flips sign: fix each axis so that its
    # largest loading is positive (scikit-learn's deterministic convention)
    vt = vt * np.sign(vt[np.arange(len(vt)), np.abs(vt).argmax(1)])[:, None]
    k = min(k, *x.shape)
    f = xc @ vt[:k].T
    f = (f - f.mean(0)) / f.std(0)
    y = np.eye(labels.max() + 1)[labels]
    n = len(x)
    rf, ry = [], []
    for i in range(n):
        for j in range(i + 1, n):
            rf.append(1 - np.corrcoef(f[i], f[j])[0, 1])
            ry.append(round(1 - np.corrcoef(y[i], y[j])[0, 1], 12))  # exact ties
    return 100 * spearmanr(rf, ry).statistic


@pytest.mark.parametrize("shape", SHAPES)
def test_parc_equals_a_naive_implementation(shape):
    x, labels = data(*shape)
    assert parc(x, labels) == pytest.approx(naive_parc(x, labels), rel=1e-8)


def test_parc_uses_a_seeded_probe_of_500():
    # parc on 500 rows or fewer uses them all (equal to the naive form above), so the probe is
    # checked against parc of the rows drawn here; the naive O(N^2) loop on 500 rows took 19 s
    x, labels = data(700, 6, 3, single=False)
    keep = np.sort(np.random.default_rng(0).permutation(700)[:500])
    assert parc(x, labels) == pytest.approx(parc(x[keep], labels[keep]), rel=1e-12)
    assert parc(x, labels) != pytest.approx(parc(x[:500], labels[:500]), rel=1e-6)


def test_parc_prefers_features_that_separate_the_classes():
    x, labels = data(60, 6, 3, single=False)
    noise = np.random.default_rng(5).normal(size=x.shape)
    assert parc(x, labels) > parc(noise, labels)


# --- ETran -------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES)
def test_etran_lda_solves_the_generalised_symmetric_eigenproblem(shape):
    x, labels = data(*shape)
    classes = labels.max() + 1
    between, within, *_ = lda_scatter(x, labels, classes)
    lda = fit_shrinkage_lda(x, labels, classes)
    gammas, vectors = scipy.linalg.eigh(between, within)
    order = np.argsort(gammas)[::-1]
    assert lda.eigenvalues == pytest.approx(gammas[order], abs=1e-8 * abs(gammas).max())
    top = classes - 1  # distinct leading eigenvalues: vectors agree up to sign
    ours, theirs = lda.directions[:, :top], vectors[:, order[:top]]
    signs = np.sign(np.sum(ours * theirs, axis=0))
    np.testing.assert_allclose(ours, theirs * signs, rtol=1e-6, atol=1e-8 * abs(theirs).max())
    # Wᵀ S_w' W = I (loosely: for N < D the shrinkage floor leaves S_w' ill-conditioned)
    np.testing.assert_allclose(lda.directions.T @ within @ lda.directions, np.eye(x.shape[1]),
                               atol=1e-5)


@pytest.mark.parametrize("shape", SHAPES)
def test_etran_lda_with_all_directions_is_the_shrunk_fisher_classifier(shape):
    x, labels = data(*shape)
    classes = labels.max() + 1
    probs = fit_shrinkage_lda(x, labels, classes).posteriors(x)
    np.testing.assert_allclose(probs, fda_posteriors(x, labels, classes)[0], atol=1e-8)


def test_etran_terms_hand_worked_energy_and_naive_lda():
    x, labels = data(400, 5, 2, single=False)
    lse = np.sort(logsumexp(x, axis=1))
    terms = etran_terms(x, labels)
    assert terms["energy"] == pytest.approx(lse[:2].mean())  # 0.5 % of 400 = 2 examples
    _, within, means, priors, _ = lda_scatter(x, labels, 2)
    logits = x @ np.linalg.inv(within) @ means.T
    logits += -0.5 * np.diag(means @ np.linalg.inv(within) @ means.T) + np.log(priors)
    p = np.exp(logits - logsumexp(logits, axis=1, keepdims=True))
    assert terms["lda"] == pytest.approx(p[np.arange(400), labels].mean(), rel=1e-10)
    assert etran(x, labels) == pytest.approx(0.15 * terms["energy"] + 0.85 * terms["lda"])


def test_pool_normalisation_hand_worked():
    terms = [{"a": 1.0, "b": 10.0}, {"a": 3.0, "b": 10.0}, {"a": 2.0, "b": 30.0}]
    # a -> 0, 1, .5; b -> 0, 0, 1
    np.testing.assert_allclose(combine_pool(terms, {"a": 1.0, "b": -2.0}), [0.0, 1.0, -1.5])
    assert min_max(np.array([4.0, 4.0])).tolist() == [0.0, 0.0]


# --- NCTI --------------------------------------------------------------------------------------

def naive_ncti_terms(x, labels):
    """NumPy only: PCA(64), sklearn's shrinkage-eigen LDA written out, the three terms."""
    n = len(x)
    xc = x - x.mean(0)
    _, s, vt = np.linalg.svd(xc, full_matrices=False)
    k = min(64, *x.shape)
    z = xc @ vt[:k].T
    variance = s**2 / (n - 1)
    shrink = max(np.exp(-variance[:32].sum()), 1e-10)
    classes = np.unique(labels)
    priors = np.array([(labels == c).mean() for c in classes])
    means = np.array([z[labels == c].mean(0) for c in classes])

    def shrunk_cov(a):
        cov = np.cov(a.T, bias=True).reshape(k, k)
        return (1 - shrink) * cov + shrink * np.trace(cov) / k * np.eye(k)

    sw = sum(p * shrunk_cov(z[labels == c]) for p, c in zip(priors, classes))
    sb = shrunk_cov(z) - sw
    gammas, vecs = scipy.linalg.eigh(sb, sw)
    vecs = vecs[:, np.argsort(gammas)[::-1]]
    coef = means @ vecs @ vecs.T
    logits = z @ coef.T - 0.5 * np.diag(means @ coef.T) + np.log(priors)
    p = np.exp(logits - logsumexp(logits, axis=1, keepdims=True))
    proj = (z @ vecs)[:, : len(classes) - 1]
    seli = np.linalg.norm(proj - proj.mean(0), ord="nuc")
    vc = np.log(sum(np.linalg.norm(p[labels == c], ord="nuc") for c in classes))
    return {"seli": seli, "ncc": p[np.arange(n), labels].mean(), "vc": vc}


@pytest.mark.parametrize("shape", SHAPES)
def test_ncti_terms_equal_a_naive_implementation(shape):
    x, labels = data(*shape)
    x = x * 0.1  # embedding-like scale: the shrinkage stays above its floor (eigen solver)
    ours, naive = ncti_terms(x, labels), naive_ncti_terms(x, labels)
    for name in ("seli", "ncc", "vc"):
        assert ours[name] == pytest.approx(naive[name], rel=1e-6), name
    assert ncti(x, labels) == pytest.approx(ours["ncc"] + ours["seli"] - ours["vc"])


def test_ncti_switches_to_the_unshrunk_svd_lda_when_the_shrinkage_hits_its_floor():
    x, labels = data(80, 6, 3, single=False)
    x = x * 100  # Σ explained variance ≫ 23: exp(−Σ) < 1e-10
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.decomposition import PCA

    z = PCA(n_components=6, svd_solver="full").fit_transform(x)
    probs = LinearDiscriminantAnalysis(solver="svd").fit(z, labels).predict_proba(z)
    terms = ncti_terms(x, labels)
    assert terms["ncc"] == pytest.approx(probs[np.arange(80), labels].mean())


# --- PED ---------------------------------------------------------------------------------------

def test_ped_hand_worked_two_overlapping_classes():
    # classes {−1, 1} and {0, 2}: radii 1, distance 1, overlap o = 0.6·2 − 1 = 0.2; each step
    # moves each class by ½·0.1²·o = 0.005·o apart, so o shrinks by 0.99 per step and all six
    # steps run (each step's change stays above half the first); total shift 0.1·(1 − 0.99⁶)
    x = np.array([[-1.0], [1.0], [0.0], [2.0]])
    labels = np.array([0, 0, 1, 1])
    moved = descend(x, labels, reference_mean=np.zeros(1), reference_std=np.ones(1))
    shift = 0.1 * (1 - 0.99**6)
    np.testing.assert_allclose(moved, x + np.array([[-shift], [-shift], [shift], [shift]]))


def test_ped_leaves_separated_classes_alone_and_scores_the_moved_features():
    x = np.array([[0.0], [0.1], [5.0], [5.1]])
    labels = np.array([0, 0, 1, 1])
    np.testing.assert_allclose(descend(x, labels), x)
    y, ys = data(40, 4, 2, single=False)
    moved = descend(y, ys, reference_mean=y.mean(0), reference_std=y.std(0))
    assert not np.allclose(moved, y)
    assert ped(y, ys, reference_mean=y.mean(0), reference_std=y.std(0)) == \
        pytest.approx(logme(moved, ys))


@pytest.mark.parametrize("shape", SHAPES)
def test_ped_is_finite_with_n_below_d_and_one_example_classes(shape):
    x, labels = data(*shape)
    assert np.isfinite(ped(x, labels)) and np.isfinite(ped(x, labels, base="sfda"))
    with pytest.raises(ScoreError, match="unknown base"):
        ped(x, labels, base="gbc")
