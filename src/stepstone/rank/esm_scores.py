"""``esm-<score>`` for every feature score: map the target's base embeddings through each
source's ESM, then score the mapped features (``esm-logme`` has its own faster path).

Only one mapped matrix (N × D, float64) exists at a time: ESMs arrive block by block from the
hub and each is applied as F_aug @ A, scored and dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import numpy as np

from ..errors import ScoreError
from ..hub.catalog import HubEntry
from ..scores.pool import combine_pool
from ..scores.registry import ScoreInfo, feature_scores
from .methods import MethodScores, RankContext, register

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


def score_pooled(ctx: RankContext, info: ScoreInfo,
                 pairs: Iterator[tuple[HubEntry, np.ndarray]], out: MethodScores) -> None:
    """A pool-normalised score (ETran, NCTI): every entry's terms first, then each term
    min-max normalised across the entries that could be scored, then the weighted sum."""
    labels, regression = ctx.task.labels, ctx.task.is_regression
    ids: list[str] = []
    terms: list[dict[str, float]] = []
    for entry, features in pairs:
        try:
            values = info.terms(features, labels, regression=regression)
        except (ScoreError, np.linalg.LinAlgError) as err:
            out.skipped[entry.id] = f"{info.name} failed: {err}"
            continue
        if all(np.isfinite(v) for v in values.values()):
            ids.append(entry.id)
            terms.append(values)
        else:
            out.skipped[entry.id] = f"{info.name}: a term is not finite (degenerate ESM?)"
    if terms:
        for esm_id, score in zip(ids, combine_pool(terms, info.pool_weights)):
            out.add(esm_id, float(score))


def identity_score(ctx: RankContext, info: ScoreInfo) -> float | None:
    """The score of the base embeddings themselves (the identity map), None if it fails."""
    try:
        value = info.func(np.asarray(ctx.features, dtype=np.float64), ctx.task.labels,
                          regression=ctx.task.is_regression)
    except (ScoreError, np.linalg.LinAlgError) as err:
        logger.debug("%s of the identity map failed: %s", info.name, err)
        return None
    return float(value) if np.isfinite(value) else None


def esm_score_method(info: ScoreInfo) -> Callable[[RankContext], MethodScores]:
    def method(ctx: RankContext) -> MethodScores:
        info.check_target(ctx.task.is_regression)
        if info.affine_invariant:
            logger.warning("%s does not change under an invertible linear map of the features: "
                           "every invertible ESM gets (nearly) the same score, so esm-%s cannot "
                           "tell sources apart; prefer esm-shrinkage-hscore or esm-logme",
                           info.name, info.name)
        out = MethodScores()
        scorer = score_pooled if info.pooled else score_each
        scorer(ctx, info, mapped_features(ctx, out.skipped), out)
        # a pool-normalised score has no value for one map on its own: no reference row
        out.reference = None if info.pooled else identity_score(ctx, info)
        return out

    method.__doc__ = f"{info.name} of the target's base embeddings mapped through each ESM."
    method.__name__ = f"esm_{info.name.replace('-', '_')}"
    return method


for _info in feature_scores():
    # esm-logme: the Gram-identity fast path in methods.py; esm-ped: rank/estimators.py
    if _info.name != "logme" and not _info.custom_esm:
        register(f"esm-{_info.name}")(esm_score_method(_info))
