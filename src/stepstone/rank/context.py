"""What a ranking method sees and returns: RankContext, MethodScores, SourceParts.

A method is a function ``(ctx) -> MethodScores`` with a :class:`~.registry.MethodInfo` record
registered under its CLI name (the methods are in :mod:`stepstone.rank.methods`). It may leave
entries out (with a reason), and must never let one broken ESM stop the others.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from .._progress import progress
from ..data.task import TaskData
from ..encode.encoder import Encoder
from ..hub.catalog import HubEntry
from ..hub.hub import Hub
from ..hub.packed import iter_hub_blocks

logger = logging.getLogger(__name__)


@dataclass
class MethodScores:
    scores: dict[str, float] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    #: the score of "no intermediate step" by the same method (the identity map for ESM
    #: methods, the base model for methods on tuned models); None where it has no meaning
    reference: float | None = None

    def add(self, esm_id: str, score: float) -> None:
        """Record a score; a non-finite one leaves the source out, with the reason."""
        if np.isfinite(score):
            self.scores[esm_id] = float(score)
        else:
            self.skipped[esm_id] = "score is not finite (degenerate ESM?)"

    @property
    def values(self) -> dict[str, float]:
        return self.scores


@dataclass
class SourceParts:
    """Per-source parts of a pool-dependent score (ETran's terms, say), before pooling: what
    each shard returns, so that the driver pools exactly what a local run pools."""

    values: dict[str, object] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    reference: float | None = None


def gather(parts: list, order: list[str]):
    """Merge shards' MethodScores or SourceParts into one, ``values`` in ``order`` (the
    entries' order of a local run, whatever order the shards finished in)."""
    merged = type(parts[0])()
    values: dict[str, object] = {}
    for part in parts:
        values.update(part.values)
        merged.skipped.update(part.skipped)
        if part.reference is not None:  # the same value from every shard that has one
            merged.reference = part.reference
    merged.values.update((i, values[i]) for i in order if i in values)
    return merged


@dataclass
class RankContext:
    """Everything a method may use; expensive parts are computed on first access."""

    task: TaskData
    hub: Hub
    entries: list[HubEntry]
    encoder: Encoder
    show_progress: bool | None = None
    #: kept fine-tuned source models (``<models_dir>/<esm id>``), for methods that need them
    models_dir: Path | None = None
    #: seed of the randomised methods (random baseline, fold splits, samples)
    seed: int = 42
    #: an advice model file given explicitly (else the hub's own calibration.json): its
    #: measured transfer table is what ``transfer-graph`` ranks with
    advice_path: Path | None = None

    @cached_property
    def features(self) -> np.ndarray:
        """Base-model embeddings of the target, (N, D) float32 (from the cache when present)."""
        return self.encoder.embed_task(self.task)

    def esm_blocks(self, *, skipped: dict[str, str], as_stored: bool = False
                   ) -> Iterator[tuple[list[HubEntry], np.ndarray]]:
        """The entries' ESMs as stacked augmented maps (B, D+1, D), block by block (from the
        hub's pack when possible), with a progress bar; broken ESMs are recorded in
        ``skipped``. Maps are float64 unless ``as_stored`` (then often float16)."""
        blocks = iter_hub_blocks(self.hub, self.entries, dim=self.features.shape[1],
                                 skipped=skipped, as_stored=as_stored,
                                 show_progress=self.show_progress)
        # the first block packs the hub when its pack is stale, under a bar of its own: fetch
        # it before this bar opens, so that the two bars follow each other instead of nesting
        first = next(blocks, None)
        bar = progress(total=len(self.entries), desc="Scoring ESMs", unit="esm",
                       show=self.show_progress, leave=False)
        with bar:
            for entries, maps in itertools.chain([first] if first else [], blocks):
                yield entries, maps
                bar.update(len(entries))
