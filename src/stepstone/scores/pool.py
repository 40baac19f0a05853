"""Scores that the papers normalise over the candidate pool (ETran, NCTI).

Such a score is a few terms per candidate; each term is min-max normalised across the pool and
the normalised terms are added with fixed weights. Adding or removing a candidate therefore
changes every other candidate's score (the ranking of the others can change too), and a score
means nothing outside its pool: stepstone normalises across the hub entries being ranked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def min_max(values: np.ndarray) -> np.ndarray:
    """(v − min) / (max − min) over the pool; all zeros when the values are all equal.
    Shapes: (M,) -> (M,)."""
    v = np.asarray(values, dtype=np.float64)
    span = float(v.max() - v.min()) if v.size else 0.0
    return (v - v.min()) / span if span > 0 else np.zeros_like(v)


def combine_pool(terms: Sequence[Mapping[str, float]], weights: Mapping[str, float]
                 ) -> np.ndarray:
    """Σ_t weight_t · min_max(term_t over the pool), one score per candidate (M,)."""
    out = np.zeros(len(terms))
    for name, weight in weights.items():
        out += weight * min_max(np.array([t[name] for t in terms]))
    return out
