"""Naive reference implementations of the scores, written straight from the papers' formulas
with explicit loops and matrices (no eigen tricks, no vectorisation shared with stepstone)."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import scipy.linalg


def _classes(labels):
    classes = sorted(set(np.asarray(labels).tolist()))
    return classes, np.array([classes.index(v) for v in np.asarray(labels).tolist()])


def naive_hscore(f, labels):
    """tr(pinv(Cov f) · Cov(E[f | y])) with the N × D matrix of class means per row."""
    f = np.asarray(f, float)
    g = np.zeros_like(f)
    for c in set(labels.tolist()):
        g[labels == c] = f[labels == c].mean(0)
    cov_f = np.cov(f.T, bias=True).reshape(f.shape[1], f.shape[1])
    cov_g = np.cov(g.T, bias=True).reshape(f.shape[1], f.shape[1])
    return float(np.trace(np.linalg.pinv(cov_f, rcond=1e-10, hermitian=True) @ cov_g))


def naive_ledoit_wolf(f):
    """α = min(β̄, δ)/δ with β̄ = (1/N²)Σ_i ‖x_i x_iᵀ − S‖²_F / D, δ = ‖S − μI‖²_F / D."""
    x = np.asarray(f, float) - np.mean(f, 0)
    n, d = x.shape
    s = x.T @ x / n
    mu = np.trace(s) / d
    beta = sum(np.sum((np.outer(row, row) - s) ** 2) for row in x) / n**2 / d
    delta = np.sum((s - mu * np.eye(d)) ** 2) / d
    return min(beta, delta) / delta


def naive_shrinkage_hscore(f, labels):
    x = np.asarray(f, float) - np.mean(f, 0)
    n, d = x.shape
    alpha = naive_ledoit_wolf(x)
    s = x.T @ x / n
    shrunk = (1 - alpha) * s + alpha * np.trace(s) / d * np.eye(d)
    cov_g = np.zeros((d, d))
    for c in set(labels.tolist()):
        m = x[labels == c].mean(0)
        cov_g += (labels == c).sum() / n * np.outer(m, m)
    return float(np.trace(np.linalg.inv(shrunk) @ ((1 - alpha) * cov_g)))


def naive_leep(theta, labels):
    classes, y = _classes(labels)
    n, cs = theta.shape
    joint = [[sum(theta[i, z] for i in range(n) if y[i] == c) / n for z in range(cs)]
             for c in range(len(classes))]
    marginal = [sum(joint[c][z] for c in range(len(classes))) for z in range(cs)]
    total = 0.0
    for i in range(n):
        eep = sum(joint[y[i]][z] / marginal[z] * theta[i, z] for z in range(cs) if marginal[z] > 0)
        total += math.log(eep)
    return total / n


def naive_nce(theta, labels):
    _, y = _classes(labels)
    z = [int(np.argmax(row)) for row in theta]
    n = len(y)
    joint = Counter(zip(y.tolist(), z))
    marginal = Counter(z)
    return sum(count / n * math.log(count / marginal[zz]) for (_, zz), count in joint.items())


def naive_gbc(f, labels, *, spherical=True, floor=1e-4):
    """Pairwise Bhattacharyya distances with explicit diagonal covariance matrices."""
    f = np.asarray(f, float)
    classes, y = _classes(labels)
    d = f.shape[1]
    stats = []
    for c in range(len(classes)):
        part = f[y == c]
        var = np.maximum(part.var(0), floor)
        if spherical:
            var = np.full(d, var.mean())
        stats.append((part.mean(0), np.diag(var)))
    total = 0.0
    for i, (mi, si) in enumerate(stats):
        for j, (mj, sj) in enumerate(stats):
            if i == j:
                continue
            s = (si + sj) / 2
            gap = mi - mj
            db = gap @ np.linalg.inv(s) @ gap / 8 + 0.5 * (
                np.linalg.slogdet(s)[1] - 0.5 * np.linalg.slogdet(si)[1]
                - 0.5 * np.linalg.slogdet(sj)[1])
            total += math.exp(-db)
    return -total


def naive_transrate(f, labels, eps=1e-4):
    def rate(z):
        n, d = z.shape
        return 0.5 * np.linalg.slogdet(np.eye(d) + z.T @ z / (n * eps))[1]

    z = np.asarray(f, float) - np.mean(f, 0)
    classes = sorted(set(labels.tolist()))
    return rate(z) - np.mean([rate(z[labels == c]) for c in classes])


def _reference_fda(x, y, classes, shrinkage=None):
    """The reference's steps literally: generalised eigenvectors of (S_b, S_w'), all kept."""
    n, d = x.shape
    priors = np.bincount(y, minlength=classes) / n
    means = np.array([x[y == c].mean(0) for c in range(classes)])
    within = sum(priors[c] * np.cov(x[y == c].T, bias=True) for c in range(classes))
    if shrinkage is None:
        shrinkage = max(math.exp(-5 * np.linalg.eigvalsh(within)[-1]), 1e-10)
    total = np.cov(x.T, bias=True)
    total_s = (1 - shrinkage) * total + shrinkage * np.trace(total) / d * np.eye(d)
    within_s = (1 - shrinkage) * within + shrinkage * np.trace(within) / d * np.eye(d)
    evals, evecs = scipy.linalg.eigh(total_s - within_s, within_s)
    evecs = evecs[:, np.argsort(evals)[::-1]]
    coef = means @ evecs @ evecs.T
    intercept = -0.5 * np.diag(means @ coef.T) + np.log(priors)
    scores = x @ coef.T + intercept
    probs = np.exp(scores - scores.max(1, keepdims=True))
    return probs / probs.sum(1, keepdims=True), shrinkage


def naive_lda_posteriors(x, y, classes, shrinkage):
    """Bayes' rule with class-conditional Gaussians N(μ_c, S_w') sharing one covariance, the
    shrunk within-class covariance S_w' = (1 − λ)S_w + λ·tr(S_w)/D·I, and priors p_c."""
    n, d = x.shape
    priors = np.bincount(y, minlength=classes) / n
    means = [x[y == c].mean(0) for c in range(classes)]
    within = sum(priors[c] * np.cov(x[y == c].T, bias=True) for c in range(classes))
    shrunk = (1 - shrinkage) * within + shrinkage * np.trace(within) / d * np.eye(d)
    precision = np.linalg.inv(shrunk)
    log_post = np.array([[-0.5 * (row - means[c]) @ precision @ (row - means[c])
                          + math.log(priors[c]) for c in range(classes)] for row in x])
    post = np.exp(log_post - log_post.max(1, keepdims=True))
    return post / post.sum(1, keepdims=True)


def naive_sfda(f, labels):
    x = np.array(f, float)
    classes, y = _classes(labels)
    c = len(classes)
    probs, shrinkage = _reference_fda(x, y, c)
    soft = np.exp(probs) / np.exp(probs).sum(1, keepdims=True)
    means = np.array([x[y == k].mean(0) for k in range(c)])
    for k in range(c):
        others = (means.sum(0) - means[k]) / (c - 1)
        rows = np.where(y == k)[0]
        p = soft[rows, k][:, None]
        x[rows] = p * x[rows] + (1 - p) * others
    probs, _ = _reference_fda(x, y, c, shrinkage)
    return float(np.mean([probs[i, y[i]] for i in range(len(y))]))


def naive_knn(f, labels, k=3, regression=False):
    f = np.asarray(f, float)
    n = len(f)
    correct, predictions = 0, []
    for i in range(n):
        order = sorted((float(np.sum((f[i] - f[j]) ** 2)), j) for j in range(n) if j != i)[:k]
        neighbours = [j for _, j in order]
        if regression:
            predictions.append(np.mean([labels[j] for j in neighbours]))
            continue
        votes = Counter(labels[j] for j in neighbours)
        best = max(votes.values())
        winner = next(labels[j] for j in neighbours if votes[labels[j]] == best)
        correct += winner == labels[i]
    if regression:
        return float(np.corrcoef(labels, predictions)[0, 1])
    return correct / n


def naive_loo_ridge_errors(x, y, alphas):
    """Leave-one-out mean squared error per α by refitting without each example (intercept
    unpenalised: an extra all-ones column with zero penalty)."""
    n, d = x.shape
    errors = []
    for alpha in alphas:
        total = 0.0
        for i in range(n):
            keep = np.arange(n) != i
            xa = np.hstack([x[keep], np.ones((n - 1, 1))])
            penalty = alpha * np.eye(d + 1)
            penalty[-1, -1] = 0.0
            w = np.linalg.solve(xa.T @ xa + penalty, xa.T @ y[keep])
            total += np.sum((np.append(x[i], 1.0) @ w - y[i]) ** 2)
        errors.append(total / (n * y.shape[1]))
    return np.array(errors)


def naive_nleep(f, labels, *, variance=0.8, components_per_class=5, seed=123, max_iter=100,
                tol=1e-3, reg_covar=1e-6):
    """NLEEP from its definition: PCA (eigenvectors of the covariance, the fewest explaining more
    than ``variance``), coordinates divided by their RMS, EM for a full-covariance Gaussian
    mixture with densities from scipy.stats, and LEEP (naive_leep) of its posteriors.

    Only the start is shared with stepstone: scikit-learn's k-means clusters (same seed, as
    ``GaussianMixture`` draws them), which depend only on distances and so are the same for PCA
    coordinates of any sign.
    """
    from scipy.special import logsumexp
    from scipy.stats import multivariate_normal

    from sklearn.cluster import KMeans

    _, y = _classes(labels)
    x = np.asarray(f, float) - np.mean(f, 0)
    evals, evecs = np.linalg.eigh(np.cov(x.T, bias=True))
    evals, evecs = evals[::-1], evecs[:, ::-1]
    ratio = np.cumsum(evals) / evals.sum()
    k = next(i + 1 for i, r in enumerate(ratio) if r > variance)
    z = x @ evecs[:, :k]
    z = z / math.sqrt(np.mean(z**2))
    n, d = z.shape
    components = min(components_per_class * (y.max() + 1), n)
    start = KMeans(components, n_init=1, random_state=seed).fit(z).labels_
    resp = np.eye(components)[start]

    def m_step(resp):
        nk = resp.sum(0) + 10 * np.finfo(float).eps
        means = [resp[:, j] @ z / nk[j] for j in range(components)]
        covs = [sum(resp[i, j] * np.outer(z[i] - means[j], z[i] - means[j]) for i in range(n))
                / nk[j] + reg_covar * np.eye(d) for j in range(components)]
        return nk / nk.sum(), means, covs

    def log_joint(model):
        weights, means, covs = model
        return np.column_stack([math.log(weights[j])
                                + multivariate_normal(means[j], covs[j]).logpdf(z).reshape(n)
                                for j in range(components)])

    model, previous = m_step(resp), -np.inf
    for _ in range(max_iter):
        joint = log_joint(model)
        bound = float(np.mean(logsumexp(joint, axis=1)))
        model = m_step(np.exp(joint - logsumexp(joint, axis=1, keepdims=True)))
        if abs(bound - previous) < tol:
            break
        previous = bound
    joint = log_joint(model)
    return naive_leep(np.exp(joint - logsumexp(joint, axis=1, keepdims=True)), y)
