"""Known edge cases, for every feature score: N < D, a class with one example, constant and
duplicated features, very large and very small feature scales, permutations, regression
targets given to classification-only scores."""

from __future__ import annotations

import numpy as np
import pytest

from stepstone.errors import ScoreError, UnsupportedTargetError
from stepstone.scores import SCORES, feature_scores, hscore, logme, shrinkage_hscore
from tests.scores.naive import naive_logme
from tests.scores.test_scores import classified

FEATURE_SCORES = [info.name for info in feature_scores()]
CLASSIFICATION_ONLY = [info.name for info in SCORES.values() if not info.regression]


def score(name: str, features, labels, **kw) -> float:
    return SCORES[name](features, labels, **kw)


@pytest.mark.parametrize("name", FEATURE_SCORES)
def test_every_score_is_finite_when_n_is_below_d(name):
    f, y = classified(20, 50, 3, seed=1)
    assert np.isfinite(score(name, f, y))


def test_n_below_d_saturates_plain_hscore_but_not_shrinkage_or_logme():
    f, y = classified(30, 64, 3, seed=2, signal=30.0)
    noise = np.random.default_rng(2).standard_normal((30, 64))
    # any features (even noise) fit any labels perfectly when N - 1 ≤ D: H = C - 1
    assert hscore(f, y) == pytest.approx(2.0, rel=1e-8)
    assert hscore(noise, y) == pytest.approx(2.0, rel=1e-8)
    assert shrinkage_hscore(f, y) > shrinkage_hscore(noise, y)
    assert shrinkage_hscore(f, y) < 2.0
    # LogME keeps the (D - k) log α term: equal to the explicit evidence, no blow-up
    assert logme(f, y) == pytest.approx(naive_logme(f, y), rel=1e-8)
    assert logme(f, y) > logme(noise, y)


@pytest.mark.parametrize("name", FEATURE_SCORES)
def test_one_example_of_a_class(name):
    f, y = classified(60, 6, 3, seed=3)
    y[0] = 3  # the only example of class 3
    assert np.isfinite(score(name, f, y))


def test_constant_features_give_the_no_information_values():
    f = np.full((40, 5), 3.0)
    y = np.repeat([0, 1], 20)
    priors = np.array([0.5, 0.5])
    assert score("hscore", f, y) == 0.0
    assert score("shrinkage-hscore", f, y) == 0.0
    assert score("transrate", f, y) == 0.0
    assert score("gbc", f, y) == pytest.approx(-2.0)  # every class overlaps fully: −C(C−1)
    assert score("sfda", f, y) == pytest.approx(float(np.sum(priors**2)))  # = the priors
    assert score("nleep", f, y) == pytest.approx(float(np.sum(priors * np.log(priors))))
    assert score("ridge", f, np.array([0] * 30 + [1] * 10)) == pytest.approx(0.75)
    assert np.isfinite(score("logme", f, y)) and np.isfinite(score("knn", f, y))


@pytest.mark.parametrize("name", FEATURE_SCORES)
def test_a_constant_feature_among_informative_ones(name):
    f, y = classified(80, 5, 2, seed=4)
    with_dead = np.hstack([f, np.zeros((80, 2))])  # like MiniLM's two all-zero dimensions
    assert np.isfinite(score(name, with_dead, y))


@pytest.mark.parametrize("name,options", [("hscore", {}), ("knn", {}), ("ridge", {}),
                                          ("gbc", {"pca_dim": 4})])
def test_duplicated_features_change_nothing_where_the_math_says_so(name, options):
    # [F, F] scales distances by √2 (kNN), keeps the pseudo-inverse geometry (H-score), doubles
    # the relative ridge grid with the Gram (ridge); spherical GBC after PCA to rank(F) sees a
    # rotation of F scaled by √2, which it ignores
    f, y = classified(90, 4, 3, seed=5, signal=2.0)
    func = SCORES[name].func
    assert func(np.hstack([f, f]), y, **options) == pytest.approx(func(f, y, **options),
                                                                  rel=1e-8)


@pytest.mark.parametrize("name", FEATURE_SCORES)
def test_duplicated_features_stay_finite(name):
    f, y = classified(70, 4, 2, seed=6)
    assert np.isfinite(score(name, np.hstack([f, f, f[:, :1]]), y))




@pytest.mark.parametrize("name", ["hscore", "shrinkage-hscore", "knn", "ridge", "nleep"])
@pytest.mark.parametrize("scale", [1e-6, 1e6])
def test_scale_invariant_scores(name, scale):
    f, y = classified(80, 6, 3, seed=7)
    assert score(name, f * scale, y) == pytest.approx(score(name, f, y), rel=1e-7)


@pytest.mark.parametrize("name", FEATURE_SCORES)
@pytest.mark.parametrize("scale", [1e-6, 1e6])
def test_extreme_scales_stay_finite(name, scale):
    f, y = classified(60, 6, 2, seed=8)
    assert np.isfinite(score(name, f * scale, y))


def test_scale_dependent_scores_document_their_dependence():
    f, y = classified(100, 6, 2, seed=9, signal=2.0)
    # GBC's 1e-4 variance floor and TransRate's ε make tiny features look uninformative
    assert score("gbc", f * 1e-6, y) < score("gbc", f, y)
    assert score("transrate", f * 1e-6, y) < score("transrate", f, y)
    # LogME's +1e-5 guards penalise very large features (metrics.md §1.1)
    assert score("logme", f * 1e6, y) < score("logme", f, y)


@pytest.mark.parametrize("name", [n for n in FEATURE_SCORES if n not in ("ridge", "nleep")])
def test_example_order_and_class_ids_do_not_matter(name):
    # ridge draws its folds and NLEEP its k-means start from the order, so they are left out
    f, y = classified(70, 5, 3, seed=10)
    base = score(name, f, y)
    perm = np.random.default_rng(1).permutation(70)
    assert score(name, f[perm], y[perm]) == pytest.approx(base, rel=1e-9, abs=1e-12)
    assert score(name, f, (y + 1) % 3 * 10) == pytest.approx(base, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("name", CLASSIFICATION_ONLY)
def test_classification_scores_refuse_regression_targets(name):
    f, _ = classified(30, 4, 2)
    values = np.linspace(0.0, 1.0, 30)
    data = f if SCORES[name].inputs == "features" else np.full((30, 2), 0.5)
    with pytest.raises(UnsupportedTargetError, match="classification targets only"):
        SCORES[name](data, values, regression=True)
    with pytest.raises(UnsupportedTargetError, match="classification targets only"):  # floats
        SCORES[name].func(data, values)


@pytest.mark.parametrize("name", [n for n, i in SCORES.items() if i.regression])
def test_regression_scores_accept_regression_targets(name):
    f, _ = classified(50, 4, 2)
    values = f[:, 0] + np.random.default_rng(0).normal(0, 0.5, 50)
    assert np.isfinite(score(name, f, values, regression=True))


@pytest.mark.parametrize("name", FEATURE_SCORES)
def test_bad_shapes_and_values_are_errors(name):
    with pytest.raises(ScoreError):
        score(name, np.ones((5, 2)), np.array([0, 1, 0]))
    bad = np.ones((6, 2))
    bad[0, 0] = np.nan
    with pytest.raises(ScoreError, match="NaN"):
        score(name, bad, np.array([0, 1, 0, 1, 0, 1]))


@pytest.mark.parametrize("name", ["knn", "ridge"])
def test_regression_capable_scores_ask_for_the_regression_flag(name):
    f, _ = classified(30, 4, 2)
    with pytest.raises(ScoreError, match="pass regression=True"):
        SCORES[name].func(f, np.linspace(0.0, 1.0, 30))
