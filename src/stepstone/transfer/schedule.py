"""Which fine-tuning to run next: successive halving over seeds.

Round r gives seed ``seeds[r]`` to every candidate still in contention; after each complete
round the better half (by mean score so far) stays, with "no intermediate step" always kept as
the reference every gain is measured against. It stops early when the leader beats every other
contender with probability at least ``clear`` (paired over seeds, stats.p_ahead).

The schedule is a pure function of the scores measured so far, so a resumed run (scores read
back from the results file) picks up exactly where the killed one was.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .stats import Scores, p_ahead

#: P(leader beats each other contender) above which no more seeds are spent.
CLEAR = 0.95


@dataclass(frozen=True)
class Standing:
    """Where a run is: the next (candidate, seed) to fine-tune, or None when done, and why."""

    next: tuple[str, int] | None
    contenders: tuple[str, ...]  # still in contention after the last complete round
    rounds: int  # complete rounds
    reason: str  # why it stopped ("" while running)


def _mean(scores: Scores, name: str, seeds: Sequence[int]) -> float:
    values = [scores[name][s] for s in seeds if s in scores.get(name, {})]
    return float(np.mean(values)) if values else -math.inf


def halve(contenders: Sequence[str], scores: Scores, seeds: Sequence[int], *,
          reference: str) -> tuple[str, ...]:
    """The better half of ``contenders`` (at least two), by mean over ``seeds``, plus the
    reference; order kept."""
    ranked = sorted(contenders, key=lambda c: -_mean(scores, c, seeds))
    keep = set(ranked[:max(2, math.ceil(len(ranked) / 2))]) | {reference}
    return tuple(c for c in contenders if c in keep)


def standing(scores: Scores, candidates: Sequence[str], seeds: Sequence[int], *,
             reference: str, clear: float = CLEAR) -> Standing:
    """The next fine-tuning of the schedule given ``scores`` ({candidate: {seed: score}})."""
    contenders = tuple(candidates)
    for r, seed in enumerate(seeds):
        missing = [c for c in contenders if seed not in scores.get(c, {})]
        if missing:
            return Standing((missing[0], seed), contenders, r, "")
        done = seeds[:r + 1]
        if r + 1 == len(seeds):
            return Standing(None, contenders, r + 1, f"every contender has {r + 1} seeds")
        if len(contenders) == 1:
            return Standing(None, contenders, r + 1, "one candidate left")
        leader = max(contenders, key=lambda c: _mean(scores, c, done))
        others = [c for c in contenders if c != leader]
        if r >= 1 and p_ahead({c: scores[c] for c in contenders}, leader, others) >= clear:
            return Standing(None, contenders, r + 1,
                            f"{leader} is clearly ahead after {r + 1} seeds")
        contenders = halve(contenders, scores, done, reference=reference)
    return Standing(None, contenders, len(seeds), "no seeds")


def planned_runs(num_candidates: int, num_seeds: int) -> int:
    """How many target fine-tunings the schedule runs at most (no early stop)."""
    total, alive = 0, num_candidates
    for _ in range(num_seeds):
        total += alive
        alive = min(alive, max(2, math.ceil(alive / 2)) + 1)
    return total
