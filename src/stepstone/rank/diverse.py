"""``--diverse K``: choose a set of K sources that score high and are not redundant.

Greedy maximal marginal relevance over the top of a ranking: each step adds the source with the
best normalised score minus ``tradeoff`` × its largest similarity to the sources already chosen.
Similarity between two sources is either

- ``esm`` (default): linear CKA between the target's embeddings mapped through the two ESMs:
  how alike the two sources reshape *this target's* data, or
- ``textemb``: cosine between the sources' mean base embeddings (stored at build time).

``objective`` chooses how the set is built:

- ``mmr`` (default): the greedy MMR above (a heuristic, no guarantee);
- ``coverage``: lazy greedy on Σ q + λ·(1/|V|)·Σ_j max_{m∈S} sim(j, m) (normalised score plus
  facility-location coverage of the candidate pool V, λ = ``tradeoff``), monotone submodular,
  so within (1 − 1/e) of the best set (scores/coverage.py); each pick's ``gain`` is its
  marginal gain;
- ``ms-leep``: greedy ensemble by MS-LEEP of the sources' classifier heads (needs the kept
  fine-tuned models; sources without a head are left out; scores/msleep.py).
"""

from __future__ import annotations

import copy
import logging

import numpy as np

from .._options import Option
from ..hub.maps import iter_map_blocks
from ..scores.coverage import lazy_greedy_coverage
from ..scores.msleep import expected_predictions, greedy_ms_leep
from ..scores.selection import greedy_diverse, mapped_gram_sketches
from .context import RankContext
from .ranking import RankedSource, SelectedSource

logger = logging.getLogger(__name__)

#: Only the best-ranked sources are considered (at least this many, or 10 per pick).
MIN_CANDIDATES = 100


class DiverseBy(Option):
    ESM = "esm"
    TEXTEMB = "textemb"


class DiverseObjective(Option):
    MMR = "mmr"
    COVERAGE = "coverage"
    MS_LEEP = "ms-leep"


def select_diverse(ctx: RankContext, ranked: list[RankedSource], *, k: int,
                   tradeoff: float = 0.5, by: DiverseBy | str = DiverseBy.ESM,
                   objective: DiverseObjective | str = DiverseObjective.MMR
                   ) -> tuple[list[SelectedSource], dict]:
    """The diverse top-``k`` of ``ranked`` (best first) and a description of how it was made."""
    by, objective = DiverseBy.parse(by), DiverseObjective.parse(objective)
    pool = ranked[:max(MIN_CANDIDATES, 10 * k)]
    if objective is DiverseObjective.MS_LEEP:
        return _select_ms_leep(ctx, pool, k=k)
    left_out, usable = _similarity_vectors(ctx, pool, by)
    pool = [s for s in pool if s.esm_id in usable]
    if not pool:
        return [], {"k": k, "tradeoff": tradeoff, "similarity": by.value, "candidates": 0,
                    "left_out": left_out}
    matrix = np.vstack([usable[s.esm_id] for s in pool]).astype(np.float64)
    similarity = matrix @ matrix.T
    scores = np.array([s.score for s in pool])
    gains: list[float | None]
    if objective is DiverseObjective.COVERAGE:
        picks, found = lazy_greedy_coverage(scores, similarity, k=k,
                                            weight=tradeoff / len(pool))
        gains = list(found)
        redundancy = [0.0] + [float(similarity[i, picks[:n]].max())
                              for n, i in enumerate(picks) if n]
    else:
        picks, redundancy = greedy_diverse(scores, similarity, k=k, tradeoff=tradeoff)
        gains = [None] * len(picks)
    selected = [_selected(pool[i], redundancy=r, gain=g)
                for i, r, g in zip(picks, redundancy, gains)]
    meta = {"k": k, "tradeoff": tradeoff, "similarity": by.value, "candidates": len(pool),
            "left_out": left_out, "objective": objective.value}
    return selected, meta


def _selected(source: RankedSource, *, redundancy: float, gain: float | None
              ) -> SelectedSource:
    return SelectedSource(esm_id=source.esm_id, task_name=source.task_name, rank=source.rank,
                          score=source.score, redundancy=redundancy, gain=gain)


def _select_ms_leep(ctx: RankContext, pool: list[RankedSource], *, k: int
                    ) -> tuple[list[SelectedSource], dict]:
    """Greedy MS-LEEP ensemble of the pool's sources that have a classifier head."""
    from .context import MethodScores
    from .methods.tuned import each_tuned

    wanted = {s.esm_id: s for s in pool}
    sub = copy.copy(ctx)  # same cached target embeddings, only the pool's entries
    sub.entries = [e for e in ctx.entries if e.id in wanted]
    out = MethodScores()
    ids: list[str] = []
    rows: list[np.ndarray] = []
    for entry, outputs in each_tuned(sub, "ms-leep", out):
        if outputs.is_regression:
            out.skipped[entry.id] = "regression source: no classifier head"
            continue
        ids.append(entry.id)
        rows.append(expected_predictions(outputs.probabilities(), ctx.task.labels))
    meta = {"k": k, "similarity": "ms-leep", "candidates": len(ids),
            "left_out": dict(out.skipped), "objective": DiverseObjective.MS_LEEP.value}
    if not rows:
        return [], meta
    picks, gains = greedy_ms_leep(np.vstack(rows), k=k)
    return [_selected(wanted[ids[i]], redundancy=0.0, gain=g) for i, g in zip(picks, gains)], meta


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
