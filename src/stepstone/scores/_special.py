"""scipy.special's softmax and logsumexp over rows, imported on first use.

scipy.special (with what it pulls in) costs a good part of a second to import, and ranking with
ESMs never needs it: the score modules that do import it here, when they run.
"""

from __future__ import annotations

import numpy as np


def softmax_rows(logits: np.ndarray, axis: int = 1) -> np.ndarray:
    """softmax along ``axis`` (shape kept)."""
    from scipy.special import softmax

    return softmax(logits, axis=axis)


def logsumexp_rows(values: np.ndarray) -> np.ndarray:
    """log Σ_k exp(values[i, k]). Shapes: (N, K) -> (N, 1)."""
    from scipy.special import logsumexp

    return logsumexp(values, axis=1, keepdims=True)
