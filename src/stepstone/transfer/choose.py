"""Which candidates to measure, and what the measurements say."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from typing import Any

from ..data.task import TaskData
from ..errors import TransferError
from ..hub.hub import Hub
from .candidates import (NO_TRANSFER, SourceRecipe, recipe_for_dataset, recipe_from_entry,
                         with_overrides)
from .result import CandidateResult, TransferResult
from .stats import gains, score_intervals

logger = logging.getLogger(__name__)


def resolve_candidates(train: TaskData, *, sources: Sequence[str] | None,
                       ranking: str | os.PathLike | None, top: int, hub: Hub, settings: Any,
                       show_progress: bool | None) -> list[SourceRecipe]:
    """Recipes of the candidate sources: given by name, the top of a saved ranking, or the top
    of a fresh ranking of ``hub`` for the training sample (the data the candidates are then
    fine-tuned on)."""
    if sources:
        names, ranks = list(sources), [None] * len(sources)
    else:
        from ..rank.ranking import Ranking

        if ranking is not None:
            ranked = Ranking.from_json(ranking)
        else:
            from ..rank import rank_sources

            ranked = rank_sources(train, hub=hub, show_progress=show_progress, advice=False)
        chosen = ranked.sources[:top]
        names, ranks = [s.esm_id for s in chosen], [s.rank for s in chosen]
    entries = {}
    for entry in hub.entries():
        entries.setdefault(entry.id, entry)
        entries.setdefault(entry.task_name, entry)
    model_name = next(iter(entries.values())).base_model if entries else None
    recipes = []
    for name, rank in zip(names, ranks):
        if name == NO_TRANSFER:
            continue
        if name in entries:
            recipe = recipe_from_entry(entries[name], rank=rank)
        else:
            if model_name is None:
                raise TransferError(f"source {name!r} is not in the hub {hub.root}, and the hub "
                                    "is empty, so no base model is known; give --hub")
            logger.info("%s is not in the hub: fine-tuned with the default build recipe", name)
            recipe = recipe_for_dataset(name, model_name=model_name, rank=rank)
        recipes.append(with_overrides(recipe, num_examples=settings.source_examples,
                                      epochs=settings.source_epochs))
    if len({r.name for r in recipes}) != len(recipes):
        raise TransferError(f"a source is named twice: {', '.join(names)}")
    return recipes


def summarise(scores: dict[str, dict[int, float]], candidates: list[str],
              contenders: Sequence[str], *, failed: dict[str, str],
              recipes: dict[str, SourceRecipe]) -> TransferResult:
    """Per candidate mean and interval, gain over NO_TRANSFER and P(beats it); the chosen one is
    the best mean among the last round's contenders (those with the most seeds)."""
    measured = {c: scores[c] for c in candidates if scores.get(c) and c not in failed}
    intervals = score_intervals(measured)
    gain = gains(measured, NO_TRANSFER)
    out = []
    for name in candidates:
        by_seed = scores.get(name, {}) if name not in failed else {}
        row = CandidateResult(source=name, rank=recipes[name].rank if name in recipes else None,
                              seeds=sorted(by_seed), scores=[by_seed[s] for s in sorted(by_seed)])
        if name in failed:
            row.status, row.error = "failed", failed[name]
        elif name not in measured:
            row.status = "not run"
        else:
            row.mean, row.low, row.high = intervals[name]
            if name in gain:
                row.gain, row.gain_low, row.gain_high, row.p_better = gain[name]
            row.status = "measured" if name in contenders else "dropped"
        out.append(row)
    pool = [r for r in out if r.source in contenders and r.mean is not None]
    chosen = max(pool, key=lambda r: r.mean).source if pool else None
    for row in out:
        for key in ("low", "high", "gain_low", "gain_high", "p_better"):
            value = getattr(row, key)
            if value is not None and not math.isfinite(value):
                setattr(row, key, None)
    return TransferResult(target={}, metric="", evaluation={}, candidates=out, chosen=chosen)
