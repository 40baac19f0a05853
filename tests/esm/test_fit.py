from __future__ import annotations

import numpy as np
import pytest

from stepstone.esm import SGDConfig, fit_linear, fit_linear_sgd, fit_quality


def _pairs(n: int, d: int, *, noise: float, seed: int = 0, scale: float = 0.1):
    rng = np.random.default_rng(seed)
    w = np.eye(d) + scale * rng.standard_normal((d, d))
    b = rng.standard_normal(d)
    x = rng.standard_normal((n, d))
    y = x @ w.T + b + noise * rng.standard_normal((n, d))
    return x, y, w, b


def test_closed_form_recovers_an_exact_linear_map():
    x, y, w, b = _pairs(400, 16, noise=0.0)
    weight, bias, _ = fit_linear(x, y, ridge=0.0)
    np.testing.assert_allclose(weight, w, atol=1e-9)
    np.testing.assert_allclose(bias, b, atol=1e-9)


def test_closed_form_equals_the_normal_equations():
    # independent reference: ridge towards I solved with an explicit linear system
    x, y, _, _ = _pairs(120, 10, noise=0.5, seed=1)
    relative = 0.3
    weight, bias, used = fit_linear(x, y, ridge=relative)
    xc, yc = x - x.mean(0), y - y.mean(0)
    gram = xc.T @ xc
    lam = relative * np.trace(gram) / 10
    delta = np.linalg.solve(gram + lam * np.eye(10), xc.T @ (yc - xc))
    np.testing.assert_allclose(weight, np.eye(10) + delta.T, atol=1e-10)
    np.testing.assert_allclose(bias, y.mean(0) - weight @ x.mean(0), atol=1e-10)
    assert used == relative


def test_auto_ridge_generalises_with_few_pairs():
    # fewer pairs than dimensions: plain least squares interpolates noise, the identity prior
    # and the leave-one-out choice of ridge keep the map close to the truth
    x, y, w, b = _pairs(40, 64, noise=0.2, seed=2, scale=0.02)
    xt, yt, _, _ = _pairs(300, 64, noise=0.2, seed=3, scale=0.02)
    yt = xt @ w.T + b + 0.2 * np.random.default_rng(4).standard_normal(yt.shape)
    auto = fit_quality(*fit_linear(x, y)[:2], xt, yt)["mse"]
    tiny = fit_quality(*fit_linear(x, y, ridge=1e-9)[:2], xt, yt)["mse"]
    no_prior = fit_quality(*fit_linear(x, y, identity_prior=False)[:2], xt, yt)["mse"]
    assert auto < 0.5 * tiny and auto < no_prior


def test_sgd_recipe_reduces_the_error():
    x, y, _, _ = _pairs(3000, 8, noise=0.05, seed=5)  # ~940 steps, like 10k pairs in hfselect
    start = fit_quality(np.zeros((8, 8)), np.zeros(8), x, y)["mse"]
    weight, bias = fit_linear_sgd(x, y, config=SGDConfig(epochs=10))
    assert fit_quality(weight, bias, x, y)["mse"] < 0.1 * start
    longer = fit_linear_sgd(x, y, config=SGDConfig(epochs=30))
    assert fit_quality(*longer, x, y)["mse"] < 0.01  # approaches the noise floor (0.0025)
    again = fit_linear_sgd(x, y, config=SGDConfig(epochs=10))
    np.testing.assert_allclose(weight, again[0])  # seeded


def test_fit_quality_hand_case():
    base = np.array([[1.0, 0.0], [0.0, 1.0]])
    tuned = np.array([[2.0, 0.0], [0.0, 1.0]])
    quality = fit_quality(np.eye(2), np.zeros(2), base, tuned)
    assert quality["mse"] == pytest.approx(0.25)  # one error of 1 over 4 elements
    assert quality["cosine"] == pytest.approx(1.0)  # directions are unchanged
    shifted = fit_quality(np.eye(2), np.array([0.0, 1.0]), base, tuned)
    assert shifted["cosine"] == pytest.approx((np.sqrt(0.5) + 1.0) / 2)
