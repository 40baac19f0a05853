"""ETran: energy-based transferability (Gholami et al., ICCV 2023), classification form.

Two terms per candidate:

* S_en, the energy term: the features are read as logits, and the mean logsumexp of the 0.5 %
  of examples with the lowest logsumexp (at least one) is the score (mgholamikn/ETran keeps
  ``int(10·0.5)·N/1000`` examples);
* S_lda, a shrinkage LDA's mean posterior of the true class, mean_i p(y_i | x_i), with the
  SFDA shrinkage rule λ = max(exp(−5·λ_max(S_w)), 1e-10).

The LDA directions solve the generalised symmetric problem S_b w = γ S_w' w (S_b = S_t' − S_w',
both shrunk with λ), here by Cholesky whitening (L⁻¹ S_b L⁻ᵀ is symmetric); the reference calls
``eigh`` on the non-symmetric S_w'⁻¹ S_b, which silently reads one triangle only. Tests check the
directions against ``scipy.linalg.eigh(S_b, S_w')``. With all D directions kept (the reference's
choice, the default) the classifier is M S_w'⁻¹, SFDA's first step.

ETran = 0.15 · minmax(S_en) + 0.85 · minmax(S_lda), normalised across the candidate pool
(``tw.py`` of the reference); :func:`etran` on one feature matrix returns the unnormalised
0.15 · S_en + 0.85 · S_lda, only comparable between candidates of similar feature scale.
The detection term S_reg is not implemented (no boxes in text).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import cho_factor, solve_triangular
from scipy.special import logsumexp, softmax

from ._inputs import class_means, feature_matrix, two_class_inputs
from .sfda import MIN_SHRINKAGE

ENERGY_FRACTION = 0.005
WEIGHTS = {"energy": 0.15, "lda": 0.85}


@dataclass(frozen=True)
class ShrinkageLDA:
    """Fitted LDA: directions W (D, k) with Wᵀ S_w' W = I, eigenvalues γ (k,) (descending),
    class means (C, D), priors (C,), shrinkage λ."""

    directions: np.ndarray
    eigenvalues: np.ndarray
    means: np.ndarray
    priors: np.ndarray
    shrinkage: float

    def posteriors(self, x: np.ndarray) -> np.ndarray:
        """p(c | x) (N, C) of the classifier coef = M W Wᵀ."""
        coef = self.means @ self.directions @ self.directions.T
        intercept = -0.5 * np.einsum("cd,cd->c", self.means, coef) + np.log(self.priors)
        return softmax(x @ coef.T + intercept, axis=1)


def shrunk(cov: np.ndarray, shrinkage: float) -> np.ndarray:
    """(1 − λ) Σ + λ (tr Σ / D) I."""
    d = cov.shape[0]
    out = (1.0 - shrinkage) * cov
    out.flat[:: d + 1] += shrinkage * np.trace(cov) / d
    return out


def lda_scatter(x: np.ndarray, ids: np.ndarray, classes: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """(S_b, S_w', means, priors, λ): between-class scatter S_t' − S_w' and the shrunk
    within-class scatter Σ_c p_c Cov_c."""
    n, d = x.shape
    means, counts = class_means(x, ids, classes)
    priors = counts / n
    centred = x - means[ids]
    within = (centred * priors[ids, None] / counts[ids, None]).T @ centred
    shrinkage = max(float(np.exp(-5.0 * np.linalg.eigvalsh(within)[-1])), MIN_SHRINKAGE)
    total = np.cov(x, rowvar=False, bias=True).reshape(d, d)
    within_shrunk = shrunk(within, shrinkage)
    return shrunk(total, shrinkage) - within_shrunk, within_shrunk, means, priors, shrinkage


def fit_shrinkage_lda(x: np.ndarray, ids: np.ndarray, classes: int, *,
                      components: int | None = None) -> ShrinkageLDA:
    """Shrinkage LDA on ``x`` (N, D) with class ``ids`` (N,); keeps the top ``components``
    directions (all D when None)."""
    between, within, means, priors, shrinkage = lda_scatter(x, ids, classes)
    d = x.shape[1]
    if np.trace(within) <= 0.0:  # constant features: no direction separates anything
        return ShrinkageLDA(np.zeros((d, 0)), np.zeros(0), means, priors, shrinkage)
    chol, _ = cho_factor(within, lower=True)
    low = np.tril(chol)
    whitened = solve_triangular(low, solve_triangular(low, between, lower=True).T, lower=True)
    gammas, vectors = np.linalg.eigh((whitened + whitened.T) / 2.0)
    order = np.argsort(gammas)[::-1][: components or d]
    directions = solve_triangular(low.T, vectors[:, order], lower=False)  # W = L⁻ᵀ U
    return ShrinkageLDA(directions, gammas[order], means, priors, shrinkage)


def energy_term(features: np.ndarray, *, fraction: float = ENERGY_FRACTION) -> float:
    """Mean logsumexp of the lowest ``fraction`` of examples (features read as logits)."""
    lse = np.sort(logsumexp(feature_matrix(features), axis=1))
    keep = max(1, int(fraction * len(lse)))
    return float(lse[:keep].mean())


def etran_terms(features: np.ndarray, labels: np.ndarray, *, regression: bool = False
                ) -> dict[str, float]:
    """{"energy": S_en, "lda": S_lda}. Shapes: features (N, D), labels (N,). Classification."""
    x, ids, classes = two_class_inputs(features, labels, score="etran",
                                       regression=regression)
    probs = fit_shrinkage_lda(x, ids, classes).posteriors(x)
    return {"energy": energy_term(x), "lda": float(probs[np.arange(len(x)), ids].mean())}


def etran(features: np.ndarray, labels: np.ndarray, *, regression: bool = False) -> float:
    """Unnormalised 0.15 · S_en + 0.85 · S_lda of one candidate (see the module docstring)."""
    terms = etran_terms(features, labels, regression=regression)
    return float(sum(w * terms[name] for name, w in WEIGHTS.items()))
