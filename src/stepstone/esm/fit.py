"""Fit a linear ESM  y ≈ W x + b  from base embeddings x to fine-tuned embeddings y.

Two fitters: the exact ridge solution (default; float64, ridge strength chosen by generalised
cross-validation) and hfselect's SGD recipe (for parity with published ESMs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .._options import Option

#: Relative ridge strengths searched by ``ridge="auto"`` (times the mean eigenvalue of XcᵀXc):
#: a coarse pass over decades, then a refinement around the best.
RIDGE_DECADES = tuple(10.0 ** np.arange(-7, 3))
#: Rows used to estimate the leave-one-out error (the leverages still use all N rows' fit).
PRESS_ROWS = 2048


class FitMethod(Option):
    CLOSED_FORM = "closed-form"
    SGD = "sgd"


@dataclass(frozen=True)
class SGDConfig:
    """hfselect's ESM recipe: AdamW lr 1e-2, weight decay 1e-2, 10 epochs, batch 32, linear
    decay to 0, gradient clipping at 1.0, random batches."""

    epochs: int = 10
    batch_size: int = 32
    learning_rate: float = 1e-2
    weight_decay: float = 1e-2
    max_grad_norm: float = 1.0
    seed: int = 42


def fit_linear(base: np.ndarray, tuned: np.ndarray, *, ridge: float | str = "auto",
               identity_prior: bool = True) -> tuple[np.ndarray, np.ndarray, float]:
    """Ridge least squares for  tuned ≈ base @ W.T + b  (bias not penalised).

    Shapes: base (N, D_in), tuned (N, D_out) -> W (D_out, D_in), b (D_out,), plus the ridge
    strength used, relative to the mean eigenvalue of the centred Gram XcᵀXc.

    With ``identity_prior`` (when D_in = D_out) the penalty is ‖W − I‖² instead of ‖W‖²: fine-tuning
    moves embeddings, it does not replace them, so with few source pairs the map falls back to
    "no change" rather than to "everything maps to the mean". ``ridge="auto"`` picks the strength
    by exact leave-one-out error (PRESS), computed from one eigendecomposition.
    """
    x = np.asarray(base, dtype=np.float64)
    y = np.asarray(tuned, dtype=np.float64)
    prior = identity_prior and x.shape[1] == y.shape[1]
    x_mean, y_mean = x.mean(0), y.mean(0)
    xc = x - x_mean
    target = (y - y_mean) - xc if prior else y - y_mean  # what the penalised part must explain
    eigval, eigvec = np.linalg.eigh(xc.T @ xc)
    eigval = np.clip(eigval, 0.0, None)
    scale = max(float(eigval.mean()), np.finfo(float).tiny)
    keep = eigval > eigval.max() * max(x.shape) * np.finfo(float).eps
    proj = eigvec[:, keep].T @ (xc.T @ target)  # (k, D_out): XcᵀT in the eigenbasis
    if ridge == "auto":
        rows = _press_rows(len(x))
        relative = _loo_ridge(xc[rows] @ eigvec[:, keep], eigval[keep], proj, target[rows],
                              scale, n=len(x))
    else:
        relative = float(ridge)
        if relative < 0 or not np.isfinite(relative):
            raise ValueError(f"ridge must be a finite number >= 0 or 'auto', got {ridge}")
    inv = 1.0 / (eigval[keep] + relative * scale)
    coef = eigvec[:, keep] @ (inv[:, None] * proj)  # (D_in, D_out)
    weight = coef.T + (np.eye(x.shape[1]) if prior else 0.0)
    bias = y_mean - weight @ x_mean
    return weight, bias, relative


def _press_rows(n: int) -> np.ndarray | slice:
    """Rows that estimate PRESS: all, or an evenly spaced subset (PRESS is a sum over rows)."""
    if n <= PRESS_ROWS:
        return slice(None)
    return np.linspace(0, n - 1, PRESS_ROWS).astype(np.int64)


def _loo_ridge(scores: np.ndarray, eigval: np.ndarray, proj: np.ndarray, target: np.ndarray,
               scale: float, *, n: int) -> float:
    """Relative ridge with the smallest leave-one-out squared error.

    ``scores`` = Xc V (rows, k) are (some of) the centred inputs in the eigenbasis of all N rows,
    so the fit at strength λ is scores · diag(1/(s+λ)) · proj and the leverage of row i is
    1/N + Σ_j scores_ij²/(s_j+λ) (the 1/N is the unpenalised intercept).
    PRESS = Σ_i ‖residual_i‖² / (1 − leverage_i)² over the given rows.
    """
    squares = scores**2

    def press(relative: float) -> float:
        inv = 1.0 / (eigval + relative * scale)
        fitted = scores @ (inv[:, None] * proj)
        leverage = 1.0 / n + squares @ inv
        resid = ((target - fitted) ** 2).sum(1)
        return float(np.sum(resid / np.maximum(1.0 - leverage, 1e-12) ** 2))

    coarse = {r: press(r) for r in RIDGE_DECADES}
    best = min(coarse, key=coarse.get)
    fine = {r: press(r) for r in best * 10.0 ** np.array([-0.5, -0.25, 0.25, 0.5])}
    fine[best] = coarse[best]
    return float(min(fine, key=fine.get))


def fit_linear_sgd(base: np.ndarray, tuned: np.ndarray, *, config: SGDConfig = SGDConfig(),
                   device: str | torch.device = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """hfselect's trainer: nn.Linear(D, D) with default init, MSE loss, AdamW + linear decay.

    Shapes: base (N, D), tuned (N, D) -> W (D, D), b (D,).
    """
    from transformers import get_linear_schedule_with_warmup

    generator = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    x = torch.as_tensor(np.asarray(base, dtype=np.float32), device=device)
    y = torch.as_tensor(np.asarray(tuned, dtype=np.float32), device=device)
    layer = torch.nn.Linear(x.shape[1], y.shape[1]).to(device)
    optimizer = torch.optim.AdamW(layer.parameters(), lr=config.learning_rate,
                                  weight_decay=config.weight_decay)
    steps = -(-len(x) // config.batch_size) * config.epochs
    scheduler = get_linear_schedule_with_warmup(optimizer, 0, steps)
    loss_fn = torch.nn.MSELoss()
    for _ in range(config.epochs):
        order = torch.randperm(len(x), generator=generator).to(device)
        for start in range(0, len(x), config.batch_size):
            idx = order[start:start + config.batch_size]
            loss = loss_fn(layer(x[idx]), y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(layer.parameters(), config.max_grad_norm)
            optimizer.step()
            scheduler.step()
    return (layer.weight.detach().cpu().numpy().astype(np.float64),
            layer.bias.detach().cpu().numpy().astype(np.float64))


def fit_quality(weight: np.ndarray, bias: np.ndarray, base: np.ndarray,
                tuned: np.ndarray) -> dict[str, float]:
    """How well the map imitates fine-tuning on (ideally held-out) pairs.

    Returns ``mse`` (mean squared error per element, like nn.MSELoss), ``cosine`` (mean cosine
    between ESM(x) and the tuned embedding), ``base_cosine`` (the same for the identity map: how
    much fine-tuning moved the embeddings) and ``r2`` (share of the tuned embeddings' variance
    explained).
    """
    x = np.asarray(base, dtype=np.float64)
    y = np.asarray(tuned, dtype=np.float64)
    pred = x @ np.asarray(weight, dtype=np.float64).T + np.asarray(bias, dtype=np.float64)
    err = pred - y
    var = float(((y - y.mean(0)) ** 2).sum())
    return {
        "mse": float((err**2).mean()),
        "cosine": _mean_cosine(pred, y),
        "base_cosine": _mean_cosine(x, y) if x.shape == y.shape else float("nan"),
        "r2": 1.0 - float((err**2).sum()) / var if var > 0 else float("nan"),
        "num_pairs": int(len(x)),
    }


def _mean_cosine(a: np.ndarray, b: np.ndarray) -> float:
    num = (a * b).sum(1)
    den = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return float(np.mean(num / np.maximum(den, 1e-12)))
