"""``esm-logme``: LogME of the target's base embeddings mapped through each source's ESM, by
the Gram-identity route of :mod:`stepstone.scores.esm_logme` (no mapped features formed)."""

from __future__ import annotations

import numpy as np

from ...scores.esm_logme import ESMLogMEScorer, TargetStats
from ..context import MethodScores, RankContext
from ..registry import MethodInfo, Need, Reference, register


def esm_logme_method(ctx: RankContext) -> MethodScores:
    """LogME of the target's base embeddings mapped through each source's ESM."""
    out = MethodScores()
    stats = TargetStats.from_features(ctx.features, ctx.task.labels,
                                      regression=ctx.task.is_regression)
    scorer = ESMLogMEScorer(stats, device=ctx.encoder.device)  # torch on CUDA, else LAPACK
    blocks = ctx.esm_blocks(skipped=out.skipped, as_stored=True)
    for entries, scores in scorer.score_blocks(blocks):
        for entry, score in zip(entries, scores):
            out.add(entry.id, score)
    reference = float(scorer(identity_map(ctx.features.shape[1])[None])[0])
    out.reference = reference if np.isfinite(reference) else None
    return out


def identity_map(dim: int) -> np.ndarray:
    """The augmented (D+1, D) map of "no intermediate step": x -> x."""
    return np.vstack([np.eye(dim), np.zeros((1, dim))])


register(MethodInfo(
    "esm-logme", "LogME of the target mapped through each ESM (the Gram-identity fast path)",
    esm_logme_method, needs=frozenset({Need.ESMS}), reference=Reference.IDENTITY_MAP))
