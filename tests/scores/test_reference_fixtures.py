"""stepstone's scores against reference packages' values on fixed inputs.

The values were made by benchmarks/score_fixtures.py (versions recorded in the fixture): the
inputs are stored with them, so these tests need neither scikit-learn nor transformer-ranker.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from stepstone.scores import knn, ledoit_wolf_shrinkage, ridge_probe, shrinkage_hscore
from stepstone.scores.nleep import nleep, reduce_by_pca
from stepstone.scores.ridge import fit_ridge_loo, ridge_alphas

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "reference_scores.json").read_text())
CLASS_CASES = ["cls", "cls_small", "bin"]


def case(name: str) -> tuple[np.ndarray, np.ndarray]:
    data = FIXTURE["cases"][name]
    return np.array(data["features"]), np.array(data["labels"])


@pytest.mark.parametrize("name", CLASS_CASES)
def test_ledoit_wolf_shrinkage_matches_sklearn(name):
    x, _ = case(name)
    assert ledoit_wolf_shrinkage(x) == pytest.approx(
        FIXTURE["sklearn"][name]["ledoit_wolf_shrinkage"], rel=1e-10)


@pytest.mark.parametrize("name", CLASS_CASES)
def test_shrinkage_hscore_matches_transformer_ranker(name):
    # transformer-ranker divides Σ_g by N − 1 where stepstone (and Σ_f) use N; it adds the
    # shrinkage target α·μ·I in float32 (torch.eye's default dtype), hence rel 1e-6
    x, y = case(name)
    reference = FIXTURE["transformer_ranker"]["shrinkage_hscore"][name]
    assert shrinkage_hscore(x, y) * len(x) / (len(x) - 1) == pytest.approx(reference, rel=1e-6)


@pytest.mark.parametrize("name", CLASS_CASES)
def test_pca_keeps_as_many_components_as_sklearn(name):
    x, _ = case(name)
    assert reduce_by_pca(x, 0.8).shape[1] == FIXTURE["sklearn"][name]["pca80_components"]


@pytest.mark.parametrize("name", CLASS_CASES)
def test_knn1_loo_accuracy_matches_sklearn(name):
    x, y = case(name)
    assert knn(x, y, k=1) == pytest.approx(FIXTURE["sklearn"][name]["knn1_loo_accuracy"],
                                           abs=1e-12)


def test_knn3_binary_and_regression_match_sklearn():
    x, y = case("bin")
    assert knn(x, y, k=3) == pytest.approx(FIXTURE["sklearn"]["bin"]["knn3_loo_accuracy"],
                                           abs=1e-12)
    x, y = case("reg")
    assert knn(x, y, k=3, regression=True) == pytest.approx(
        FIXTURE["sklearn"]["reg"]["knn3_loo_pearson"], rel=1e-10)


@pytest.mark.parametrize("name", CLASS_CASES)
def test_ridge_probe_matches_sklearn_ridge_classifier_cv(name):
    x, y = case(name)
    reference = FIXTURE["sklearn"][name]
    assert ridge_probe(x, y) == pytest.approx(reference["ridge_cv_accuracy"], abs=1e-12)
    onehot = (y[:, None] == np.unique(y)[None, :]).astype(float)
    assert fit_ridge_loo(x, onehot, ridge_alphas(x)).alpha == pytest.approx(
        reference["ridge_loo_alpha"], rel=1e-12)


def test_ridge_regression_matches_sklearn_ridge_cv():
    x, y = case("reg")
    reference = FIXTURE["sklearn"]["reg"]
    assert ridge_probe(x, y, regression=True) == pytest.approx(reference["ridge_cv_r2"],
                                                               rel=1e-9)
    assert fit_ridge_loo(x, y[:, None], ridge_alphas(x)).alpha == pytest.approx(
        reference["ridge_loo_alpha"], rel=1e-12)


def test_nleep_caps_the_mixture_at_n_components_and_stays_finite():
    # 5·C = 20 components for 4 classes but only 12 examples: scikit-learn refuses more
    # components than examples, so stepstone caps them (a test of its use of GaussianMixture)
    rng = np.random.default_rng(2)
    labels = np.arange(12) % 4
    x = rng.normal(size=(12, 6)) + labels[:, None]
    assert np.isfinite(nleep(x, labels))
