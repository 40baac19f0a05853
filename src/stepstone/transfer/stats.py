"""Intervals over seeds and the evidence that a candidate beats no intermediate step.

Pure functions over ``{candidate: {seed: score}}``. With two or three seeds a candidate's own
spread is a poor estimate of seed noise, so the spread is pooled over every candidate (the seed
noise of one fine-tuning recipe on one target is much the same whichever encoder it starts
from), which gives the t intervals enough degrees of freedom to mean something.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from scipy import stats

Scores = Mapping[str, Mapping[int, float]]

#: Two-sided level of every interval.
LEVEL = 0.95


def pooled_sd(groups: list[np.ndarray]) -> tuple[float, int]:
    """Standard deviation pooled over groups (each around its own mean) and its degrees of
    freedom; (nan, 0) when no group has two values."""
    dof = sum(len(g) - 1 for g in groups if len(g) > 1)
    if dof == 0:
        return math.nan, 0
    squares = sum(float(((g - g.mean()) ** 2).sum()) for g in groups if len(g) > 1)
    return math.sqrt(squares / dof), dof


def _half_width(sd: float, dof: int, n: int, level: float) -> float:
    if dof == 0 or n == 0 or not math.isfinite(sd):
        return math.nan
    return float(stats.t.ppf(0.5 + level / 2, dof)) * sd / math.sqrt(n)


def score_intervals(scores: Scores, *, level: float = LEVEL
                    ) -> dict[str, tuple[float, float, float]]:
    """(mean, low, high) of each candidate's score over its seeds."""
    arrays = {c: np.array(list(s.values()), dtype=float) for c, s in scores.items() if s}
    sd, dof = pooled_sd(list(arrays.values()))
    out = {}
    for name, values in arrays.items():
        mean = float(values.mean())
        half = _half_width(sd, dof, len(values), level)
        out[name] = (mean, mean - half, mean + half)
    return out


def paired_differences(scores: Scores, reference: str) -> dict[str, np.ndarray]:
    """Each candidate's score minus the reference's, seed by seed (seeds both have): the same
    seed draws the same head and batch order, so pairing removes part of the seed noise."""
    ref = scores.get(reference, {})
    out = {}
    for name, by_seed in scores.items():
        if name == reference:
            continue
        common = sorted(set(by_seed) & set(ref))
        out[name] = np.array([by_seed[s] - ref[s] for s in common], dtype=float)
    return out


def gains(scores: Scores, reference: str, *, level: float = LEVEL
          ) -> dict[str, tuple[float, float, float, float]]:
    """(mean gain, low, high, P(gain > 0)) of each candidate over ``reference``.

    P is the t posterior of the mean paired difference (flat prior, pooled spread): the
    probability that, over many seeds, the candidate would score above the reference.
    """
    diffs = {c: d for c, d in paired_differences(scores, reference).items() if len(d)}
    sd, dof = pooled_sd(list(diffs.values()))
    out = {}
    for name, values in diffs.items():
        mean = float(values.mean())
        half = _half_width(sd, dof, len(values), level)
        if dof and sd > 0:
            p = float(stats.t.cdf(mean / (sd / math.sqrt(len(values))), dof))
        elif dof:  # no spread at all: the sign decides
            p = float(mean > 0) if mean != 0 else 0.5
        else:
            p = math.nan
        out[name] = (mean, mean - half, mean + half, p)
    return out


def p_ahead(scores: Scores, leader: str, others: list[str]) -> float:
    """The smallest probability that ``leader`` beats one of ``others`` (paired over seeds)."""
    worst = 1.0
    for other in others:
        subset = {leader: scores.get(leader, {}), other: scores.get(other, {})}
        p = gains(subset, other).get(leader, (0, 0, 0, math.nan))[3]
        worst = min(worst, p) if math.isfinite(p) else 0.0
    return worst
