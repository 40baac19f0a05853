"""``--diverse K``: choose a set of K sources that score high and are not redundant.

Greedy maximal marginal relevance over the top of a ranking: each step adds the source with the
best normalised score minus ``tradeoff`` × its largest similarity to the sources already chosen.
Similarity between two sources is either

- ``esm`` (default): linear CKA between the target's embeddings mapped through the two ESMs:
  how alike the two sources reshape *this target's* data, or
- ``textemb``: cosine between the sources' mean base embeddings (stored at build time).
"""

from __future__ import annotations

import logging

import numpy as np

from .._options import Option
from ..hub.maps import iter_map_blocks
from ..scores.selection import greedy_diverse, mapped_gram_sketches
from .methods import RankContext
from .ranking import RankedSource, SelectedSource

logger = logging.getLogger(__name__)

#: Only the best-ranked sources are considered (at least this many, or 10 per pick).
MIN_CANDIDATES = 100


class DiverseBy(Option):
    ESM = "esm"
    TEXTEMB = "textemb"


def select_diverse(ctx: RankContext, ranked: list[RankedSource], *, k: int,
                   tradeoff: float = 0.5, by: DiverseBy | str = DiverseBy.ESM
                   ) -> tuple[list[SelectedSource], dict]:
    """The diverse top-``k`` of ``ranked`` (best first) and a description of how it was made."""
    by = DiverseBy.parse(by)
    pool = ranked[:max(MIN_CANDIDATES, 10 * k)]
    left_out, usable = _similarity_vectors(ctx, pool, by)
    pool = [s for s in pool if s.esm_id in usable]
    if not pool:
        return [], {"k": k, "tradeoff": tradeoff, "similarity": by.value, "candidates": 0,
                    "left_out": left_out}
    matrix = np.vstack([usable[s.esm_id] for s in pool]).astype(np.float64)
    similarity = matrix @ matrix.T
    picks, redundancy = greedy_diverse(np.array([s.score for s in pool]), similarity, k=k,
                                       tradeoff=tradeoff)
    selected = [SelectedSource(esm_id=pool[i].esm_id, task_name=pool[i].task_name,
                               rank=pool[i].rank, score=pool[i].score, redundancy=r)
                for i, r in zip(picks, redundancy)]
    meta = {"k": k, "tradeoff": tradeoff, "similarity": by.value, "candidates": len(pool),
            "left_out": left_out}
    return selected, meta


def _similarity_vectors(ctx: RankContext, pool: list[RankedSource], by: DiverseBy
                        ) -> tuple[dict[str, str], dict[str, np.ndarray]]:
    """Unit vectors whose dot products are the similarities; and the sources without one."""
    wanted = {s.esm_id for s in pool}
    entries = [e for e in ctx.entries if e.id in wanted]
    left_out: dict[str, str] = {}
    vectors: dict[str, np.ndarray] = {}
    if by is DiverseBy.ESM:
        for block, maps in iter_map_blocks(entries, dim=ctx.features.shape[1],
                                           skipped=left_out):
            for entry, sketch in zip(block, mapped_gram_sketches(ctx.features, maps)):
                vectors[entry.id] = sketch
    else:
        for entry in entries:
            mean = ctx.hub.stats(entry.id).get("text_mean")
            if mean is None:
                left_out[entry.id] = "no stored mean embedding"
                continue
            vectors[entry.id] = mean.astype(np.float64) / max(np.linalg.norm(mean), 1e-300)
    for esm_id, why in left_out.items():
        logger.warning("diverse selection leaves out %s: %s", esm_id, why)
    return left_out, vectors
