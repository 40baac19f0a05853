"""PCA, k-means and a full-covariance Gaussian mixture (EM), in float64 NumPy.

They follow scikit-learn's defaults (``PCA(n_components=0.8)``, ``GaussianMixture``: k-means
initialisation, ``reg_covar=1e-6``, ``tol=1e-3`` on the mean log-likelihood, 100 iterations)
so that NLEEP and GBC mean what the papers' code meant, without a scikit-learn dependency.
The k-means initialisation draws its own random numbers, so a mixture fitted here and one fitted
by scikit-learn with the same seed start differently; given the same starting parameters the EM
iterations agree (see tests/scores/test_mixture.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._special import logsumexp_rows


def pca(x: np.ndarray, *, components: int | None = None, variance: float | None = None
        ) -> np.ndarray:
    """Project centred ``x`` on its leading principal directions.

    ``components``: keep that many (at most min(N, D)); ``variance``: keep the fewest whose
    explained-variance ratio exceeds it (scikit-learn's rule for a float ``n_components``).
    Shapes: x (N, D) -> (N, k). Constant data gives one all-zero column.
    """
    xc = x - x.mean(0)
    _, s, vt = np.linalg.svd(xc, full_matrices=False)
    energy = s**2
    if energy.sum() <= 0.0:
        return np.zeros((len(x), 1))
    if variance is not None:
        ratio = np.cumsum(energy) / energy.sum()
        k = int(np.searchsorted(ratio, variance, side="right")) + 1
    else:
        k = components if components is not None else len(s)
    k = max(1, min(k, len(s)))
    return xc @ vt[:k].T


def kmeans(x: np.ndarray, k: int, *, rng: np.random.Generator, max_iter: int = 300,
           tol: float = 1e-4) -> np.ndarray:
    """Lloyd's k-means from a k-means++ start; returns cluster ids (N,).

    Stops when the squared centre shift is below ``tol`` × the mean feature variance (the
    scikit-learn rule); an emptied cluster takes the point farthest from its centre.
    """
    centres = _kmeans_plus_plus(x, k, rng)
    threshold = tol * float(np.mean(np.var(x, axis=0)))
    ids = np.zeros(len(x), dtype=np.int64)
    for _ in range(max_iter):
        dist = _squared_distances(x, centres)
        ids = dist.argmin(1)
        new = np.empty_like(centres)
        for c in range(k):
            members = ids == c
            if members.any():
                new[c] = x[members].mean(0)
            else:
                far = int(dist[np.arange(len(x)), ids].argmax())
                new[c], ids[far] = x[far], c
        shift = float(((new - centres) ** 2).sum())
        centres = new
        if shift <= threshold:
            break
    return _squared_distances(x, centres).argmin(1)


def _kmeans_plus_plus(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    centres = [x[rng.integers(len(x))]]
    closest = ((x - centres[0]) ** 2).sum(1)
    for _ in range(1, k):
        total = closest.sum()
        pick = rng.choice(len(x), p=closest / total) if total > 0 else rng.integers(len(x))
        centres.append(x[pick])
        closest = np.minimum(closest, ((x - x[pick]) ** 2).sum(1))
    return np.array(centres)


def _squared_distances(x: np.ndarray, centres: np.ndarray) -> np.ndarray:
    d = (x**2).sum(1)[:, None] + (centres**2).sum(1)[None, :] - 2.0 * x @ centres.T
    return np.maximum(d, 0.0)


@dataclass
class GaussianMixture:
    """Fitted mixture: weights (K,), means (K, d), covariances (K, d, d)."""

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    iterations: int = 0
    converged: bool = False

    def log_joint(self, x: np.ndarray) -> np.ndarray:
        """log w_k + log N(x_i | μ_k, Σ_k), shape (N, K)."""
        n, d = x.shape
        out = np.empty((n, len(self.weights)))
        for k, (mean, cov) in enumerate(zip(self.means, self.covariances)):
            chol = np.linalg.cholesky(cov)
            z = np.linalg.solve(chol, (x - mean).T)  # triangular, (d, N)
            log_det = 2.0 * np.log(np.diag(chol)).sum()
            out[:, k] = -0.5 * (d * np.log(2 * np.pi) + log_det + (z**2).sum(0))
        return out + np.log(self.weights)

    def posteriors(self, x: np.ndarray) -> np.ndarray:
        """Responsibilities p(k | x_i), shape (N, K)."""
        joint = self.log_joint(x)
        return np.exp(joint - logsumexp_rows(joint))


def m_step(x: np.ndarray, resp: np.ndarray, *, reg_covar: float) -> GaussianMixture:
    """Weights, means and full covariances (+ reg_covar·I) from responsibilities (N, K)."""
    nk = resp.sum(0) + 10 * np.finfo(np.float64).eps
    means = resp.T @ x / nk[:, None]
    covs = np.empty((len(nk), x.shape[1], x.shape[1]))
    for k in range(len(nk)):
        diff = x - means[k]
        covs[k] = (resp[:, k, None] * diff).T @ diff / nk[k]
        covs[k].flat[:: x.shape[1] + 1] += reg_covar
    return GaussianMixture(weights=nk / nk.sum(), means=means, covariances=covs)


def fit_gaussian_mixture(x: np.ndarray, components: int, *, seed: int = 0,
                         reg_covar: float = 1e-6, tol: float = 1e-3, max_iter: int = 100,
                         init: GaussianMixture | None = None) -> GaussianMixture:
    """EM for a full-covariance mixture; starts from k-means clusters unless ``init`` is given.

    Stops when the mean log-likelihood changes by less than ``tol`` between iterations.
    Shapes: x (N, d) -> GaussianMixture with K = ``components``.
    """
    if init is None:
        ids = kmeans(x, components, rng=np.random.default_rng(seed))
        resp = np.zeros((len(x), components))
        resp[np.arange(len(x)), ids] = 1.0
        model = m_step(x, resp, reg_covar=reg_covar)
    else:
        model = init
    lower_bound = -np.inf
    for iteration in range(1, max_iter + 1):
        joint = model.log_joint(x)
        norm = logsumexp_rows(joint)
        previous, lower_bound = lower_bound, float(norm.mean())
        model = m_step(x, np.exp(joint - norm), reg_covar=reg_covar)
        model.iterations = iteration
        if abs(lower_bound - previous) < tol:
            model.converged = True
            break
    return model
