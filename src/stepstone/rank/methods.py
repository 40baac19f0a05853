"""Ranking methods: each turns a RankContext into one score per hub entry.

A method is a function ``(ctx) -> MethodScores`` registered under its CLI name. It may leave
entries out (with a reason), and must never let one broken ESM stop the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from .._progress import progress
from ..data.task import TaskData
from ..encode.encoder import Encoder
from ..errors import ESMError, InvalidOptionError
from ..esm.io import load_esm
from ..hub.catalog import HubEntry
from ..hub.hub import Hub
from ..scores.esm_logme import TargetStats, esm_logme

logger = logging.getLogger(__name__)

#: ESMs scored per batched eigen-solve: large enough for BLAS-3, small enough for memory.
BLOCK_SIZE = 64


@dataclass
class MethodScores:
    scores: dict[str, float] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


@dataclass
class RankContext:
    """Everything a method may use; expensive parts are computed on first access."""

    task: TaskData
    hub: Hub
    entries: list[HubEntry]
    encoder: Encoder
    show_progress: bool | None = None

    @cached_property
    def features(self) -> np.ndarray:
        """Base-model embeddings of the target, (N, D) float32 (from the cache when present)."""
        return self.encoder.embed_task(self.task)

    def esm_blocks(self, block_size: int = BLOCK_SIZE, *, skipped: dict[str, str]
                   ) -> Iterator[tuple[list[HubEntry], np.ndarray]]:
        """Stream the entries' ESMs as stacked augmented maps (B, D+1, D), block by block.

        A broken ESM is recorded in ``skipped`` and left out; only one block of maps is held.
        """
        dim = self.features.shape[1]
        bar = progress(total=len(self.entries), desc="Scoring ESMs", unit="esm",
                       show=self.show_progress, leave=False)
        with bar:
            for start in range(0, len(self.entries), block_size):
                ok, maps = [], []
                for entry in self.entries[start:start + block_size]:
                    try:
                        esm = load_esm(entry.path, expected_dim=dim)
                    except ESMError as err:
                        skipped[entry.id] = str(err)
                        continue
                    ok.append(entry)
                    maps.append(esm.augmented())
                bar.update(min(block_size, len(self.entries) - start))
                if ok:
                    yield ok, np.stack(maps)


def esm_logme_method(ctx: RankContext) -> MethodScores:
    """LogME of the target's base embeddings mapped through each source's ESM."""
    out = MethodScores()
    stats = TargetStats.from_features(ctx.features, ctx.task.labels,
                                      regression=ctx.task.is_regression)
    for entries, maps in ctx.esm_blocks(skipped=out.skipped):
        for entry, score in zip(entries, esm_logme(stats, maps)):
            if np.isfinite(score):
                out.scores[entry.id] = float(score)
            else:
                out.skipped[entry.id] = "score is not finite (degenerate ESM?)"
    return out


METHODS: dict[str, Callable[[RankContext], MethodScores]] = {
    "esm-logme": esm_logme_method,
}


def get_method(name: str) -> Callable[[RankContext], MethodScores]:
    key = name.strip().lower()
    if key not in METHODS:
        raise InvalidOptionError(f"unknown ranking method {name!r}; choose one of "
                                 f"{', '.join(sorted(METHODS))}")
    return METHODS[key]
