"""Set selection with a guarantee: lazy greedy on a monotone submodular objective.

    F(S) = Σ_{m∈S} q_m + λ · Σ_{j∈V} max_{m∈S} s(j, m)

q: each candidate's score min-max normalised to [0, 1] over the pool (modular); the second term
is the facility-location coverage of the whole pool V by S under a similarity s ∈ [0, 1]
(negative similarities are clipped to 0, which keeps F monotone). F is monotone submodular, so
greedy selection reaches at least (1 − 1/e) of the best K-set (Nemhauser et al. 1978); lazy
greedy (Minoux 1978) returns the same picks as plain greedy with far fewer evaluations, since a
candidate's marginal gain can only shrink as S grows. Ties go to the better-ranked candidate.
"""

from __future__ import annotations

import heapq

import numpy as np

from ..errors import ScoreError
from .pool import min_max


def coverage_value(quality: np.ndarray, similarity: np.ndarray, chosen: list[int], *,
                   weight: float = 1.0) -> float:
    """F(chosen). Shapes: quality (M,) in [0, 1], similarity (M, M) -> float."""
    if not chosen:
        return 0.0
    sim = np.clip(similarity, 0.0, None)
    return float(quality[chosen].sum() + weight * sim[:, chosen].max(1).sum())


def lazy_greedy_coverage(scores: np.ndarray, similarity: np.ndarray, *, k: int,
                         weight: float = 1.0) -> tuple[list[int], list[float]]:
    """Indices of the greedy K-set (pick order) and each pick's marginal gain.

    Shapes: scores (M,) raw scores (higher = better; normalised here), similarity (M, M)
    symmetric -> (picks, gains), both of length min(k, M).
    """
    scores = np.asarray(scores, dtype=np.float64)
    sim = np.clip(np.asarray(similarity, dtype=np.float64), 0.0, None)
    m = len(scores)
    if sim.shape != (m, m) or not np.isfinite(sim).all() or not np.isfinite(scores).all():
        raise ScoreError(f"coverage selection needs finite scores (M,) and similarity (M, M), "
                         f"got {scores.shape} and {sim.shape}")
    quality = min_max(scores)
    covered = np.zeros(m)  # max similarity of each pool member to the chosen set

    def gain(i: int) -> float:
        return float(quality[i] + weight * np.maximum(sim[:, i] - covered, 0.0).sum())

    # max-heap on (gain, better rank first); stale entries are re-evaluated when popped
    heap = [(-gain(i), i) for i in range(m)]
    heapq.heapify(heap)
    picks: list[int] = []
    gains: list[float] = []
    fresh_round = {i: 0 for i in range(m)}
    while heap and len(picks) < min(k, m):
        neg, i = heapq.heappop(heap)
        if fresh_round[i] != len(picks):  # bound from an earlier round: refresh and push back
            fresh_round[i] = len(picks)
            heapq.heappush(heap, (-gain(i), i))
            continue
        picks.append(i)
        gains.append(-neg)
        covered = np.maximum(covered, sim[:, i])
    return picks, gains


def plain_greedy_coverage(scores: np.ndarray, similarity: np.ndarray, *, k: int,
                          weight: float = 1.0) -> list[int]:
    """The same selection by evaluating F for every candidate at every step (for tests)."""
    quality = min_max(np.asarray(scores, dtype=np.float64))
    picks: list[int] = []
    for _ in range(min(k, len(quality))):
        base = coverage_value(quality, similarity, picks, weight=weight)
        gains = [(coverage_value(quality, similarity, picks + [i], weight=weight) - base, -i)
                 for i in range(len(quality)) if i not in picks]
        picks.append(-max(gains)[1])
    return picks
