"""Score a hub in shards on an engine's workers and merge them into one result.

Every method scores each source on its own, so scoring contiguous shards of the entries and
merging gives exactly the local result. Fusions are the exception (ranks and z-scores need the
whole hub): their components are run sharded and fused here.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..data.task import TaskData
from ..encode.encoder import Encoder
from ..engines import Executor, Job, LocalExecutor
from ..hub.catalog import HubEntry
from ..hub.hub import Hub
from ..hub.packed import BLOCK_SIZE, ensure_pack
from .methods import MethodScores, RankContext, get_method


@dataclass(frozen=True)
class Shard:
    """What a worker needs to score some of a hub's sources for one target."""

    hub_root: str
    entries: tuple[HubEntry, ...]
    task: TaskData
    features: np.ndarray  # the target's base embeddings, computed once by the driver
    encoder: dict[str, Any]  # Encoder keyword arguments (the model loads only if needed)
    models_dir: str | None
    seed: int


def score_shard(method: str, shard: Shard) -> MethodScores:
    """Run ``method`` on one shard (in a worker process)."""
    os.environ.setdefault("STEPSTONE_WORKERS", "1")  # one core per job: no oversubscription
    encoder = Encoder(**shard.encoder, show_progress=False)
    ctx = RankContext(task=shard.task, hub=Hub(shard.hub_root), entries=list(shard.entries),
                      encoder=encoder, show_progress=False, seed=shard.seed,
                      models_dir=Path(shard.models_dir) if shard.models_dir else None)
    ctx.__dict__["features"] = shard.features  # cached_property: no embedding in the worker
    return get_method(method)(ctx)


def run_method(method: str, ctx: RankContext, *, executor: Executor | None = None,
               shards: int | None = None) -> MethodScores:
    """``method`` over ``ctx.entries``: in this process, or sharded on ``executor``."""
    if executor is None or isinstance(executor, LocalExecutor):
        return get_method(method)(ctx)
    fused = get_method(method)
    if getattr(fused, "whole_hub", False):  # needs every source at once (transfer-graph)
        return fused(ctx)
    components = getattr(fused, "components", None)
    if components:
        from .fusion import fuse

        results = {name: run_method(name, ctx, executor=executor, shards=shards)
                   for name in components}
        return fuse(results, fused.combine)
    if ctx.entries:  # workers must find a fresh pack, not race to build one
        ensure_pack(ctx.hub, ctx.features.shape[1], show_progress=ctx.show_progress)
    jobs = [Job(key=f"shard-{i}", fn=score_shard, args=(method, shard))
            for i, shard in enumerate(_shards(ctx, shards))]
    merged = MethodScores()
    for outcome in executor.run(jobs):
        if outcome.error is not None:
            raise outcome.error
        merged.scores.update(outcome.result.scores)
        merged.skipped.update(outcome.result.skipped)
        if outcome.result.reference is not None:  # the same value from every shard
            merged.reference = outcome.result.reference
    return merged


def _shards(ctx: RankContext, count: int | None) -> list[Shard]:
    """Contiguous runs of entries, whole blocks each (so a worker reads the blocks the local
    run reads)."""
    entries = ctx.entries
    count = count or max(1, min(64, os.cpu_count() or 1) * 2)
    size = max(BLOCK_SIZE, math.ceil(len(entries) / count / BLOCK_SIZE) * BLOCK_SIZE)
    spec = ctx.encoder.spec
    encoder = {"model_name": ctx.encoder.model_name, "pooling": spec.pooling.value,
               "max_length": spec.max_length, "pair_mode": spec.pair_mode.value,
               "precision": ctx.encoder.precision.value, "device": None}
    return [Shard(hub_root=str(ctx.hub.root), entries=tuple(entries[i:i + size]), task=ctx.task,
                  features=ctx.features, encoder=encoder,
                  models_dir=str(ctx.models_dir) if ctx.models_dir else None, seed=ctx.seed)
            for i in range(0, len(entries), size)]
