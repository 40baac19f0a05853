"""``esm-<score>`` for every feature score: map the target's base embeddings through each
source's ESM, then score the mapped features (a score marked ``custom_esm`` has its own
method: ``esm-logme``'s faster path, ``esm-ped``'s reference statistics).

Only one mapped matrix (N × D, float64) exists at a time: ESMs arrive block by block from the
hub and each is applied as F_aug @ A, scored and dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from functools import partial

import numpy as np

from ...errors import ScoreError
from ...hub.catalog import HubEntry
from ...scores.pool import combine_pool
from ...scores.registry import ScoreInfo, feature_scores
from ..context import MethodScores, RankContext, SourceParts
from ..registry import BOTH, CLASSIFICATION, MethodInfo, Need, PoolUse, Reference, register

logger = logging.getLogger(__name__)


def mapped_features(ctx: RankContext, skipped: dict[str, str]
                    ) -> Iterator[tuple[HubEntry, np.ndarray]]:
    """(entry, target base embeddings mapped through its ESM (N, D) float64), one at a time."""
    features = np.asarray(ctx.features, dtype=np.float64)
    f_aug = np.hstack([features, np.ones((len(features), 1))])
    for entries, maps in ctx.esm_blocks(skipped=skipped):
        for entry, a in zip(entries, maps):
            yield entry, f_aug @ a


def score_each(ctx: RankContext, info: ScoreInfo,
               pairs: Iterator[tuple[HubEntry, np.ndarray]], out: MethodScores) -> None:
    """Score every (entry, features) pair; a score that fails for one source skips it."""
    labels, regression = ctx.task.labels, ctx.task.is_regression
    for entry, features in pairs:
        try:
            out.add(entry.id, info.func(features, labels, regression=regression))
        except (ScoreError, np.linalg.LinAlgError) as err:
            out.skipped[entry.id] = f"{info.name} failed: {err}"
            logger.debug("%s on %s failed: %s", info.name, entry.id, err)


def pooled_terms(ctx: RankContext, info: ScoreInfo) -> SourceParts:
    """A pool-normalised score's (ETran, NCTI) terms of every entry that could be scored:
    the per-source parts that :func:`pool_terms` normalises over the pool."""
    info.check_target(ctx.task.is_regression)
    out = SourceParts()
    labels, regression = ctx.task.labels, ctx.task.is_regression
    for entry, features in mapped_features(ctx, out.skipped):
        try:
            values = info.terms(features, labels, regression=regression)
        except (ScoreError, np.linalg.LinAlgError) as err:
            out.skipped[entry.id] = f"{info.name} failed: {err}"
            continue
        if all(np.isfinite(v) for v in values.values()):
            out.values[entry.id] = values
        else:
            out.skipped[entry.id] = f"{info.name}: a term is not finite (degenerate ESM?)"
    return out


def pool_terms(info: ScoreInfo, parts: SourceParts) -> MethodScores:
    """Each term min-max normalised across the pool, then the weighted sum. A pool-normalised
    score has no value for one map on its own: no reference row."""
    out = MethodScores(skipped=dict(parts.skipped))
    if parts.values:
        scores = combine_pool(list(parts.values.values()), info.pool_weights)
        for esm_id, score in zip(parts.values, scores):
            out.add(esm_id, float(score))
    return out


def identity_score(ctx: RankContext, info: ScoreInfo) -> float | None:
    """The score of the base embeddings themselves (the identity map), None if it fails."""
    try:
        value = info.func(np.asarray(ctx.features, dtype=np.float64), ctx.task.labels,
                          regression=ctx.task.is_regression)
    except (ScoreError, np.linalg.LinAlgError) as err:
        logger.debug("%s of the identity map failed: %s", info.name, err)
        return None
    return float(value) if np.isfinite(value) else None


def esm_score_method(info: ScoreInfo, ctx: RankContext) -> MethodScores:
    """``info`` of the target's base embeddings mapped through each ESM."""
    info.check_target(ctx.task.is_regression)
    if info.affine_invariant:
        logger.warning("%s does not change under an invertible linear map of the features: "
                       "every invertible ESM gets (nearly) the same score, so esm-%s cannot "
                       "tell sources apart; prefer esm-shrinkage-hscore or esm-logme",
                       info.name, info.name)
    out = MethodScores()
    score_each(ctx, info, mapped_features(ctx, out.skipped), out)
    out.reference = identity_score(ctx, info)
    return out


def esm_method_info(info: ScoreInfo) -> MethodInfo:
    """The ``esm-<score>`` record of a feature score, read off its ScoreInfo."""
    common = dict(needs=frozenset({Need.ESMS}),
                  targets=BOTH if info.regression else CLASSIFICATION)
    if info.pooled:
        return MethodInfo(f"esm-{info.name}", f"{info.summary} (ESM-mapped target)",
                          partial(pooled_terms, info=info), pool=PoolUse.NORMALISED,
                          combine=partial(pool_terms, info), **common)
    return MethodInfo(f"esm-{info.name}", f"{info.summary} (ESM-mapped target)",
                      partial(esm_score_method, info), reference=Reference.IDENTITY_MAP,
                      **common)


for _info in feature_scores():
    if not _info.custom_esm:
        register(esm_method_info(_info))
