"""Score a hub in shards on an engine's workers and merge them into one result, equal to the
local one by construction: each method's record (:mod:`stepstone.rank.registry`) says how.

- per-source methods: every shard scores its sources; the scores are merged;
- pool-normalised methods (ETran, NCTI): every shard returns its sources' terms; the driver
  gathers them all and normalises over the whole pool, as a local run does;
- composed methods (fusions, transfer-graph): their components run through this module (so
  each is sharded by its own record) and are combined on the driver;
- methods that need the pool at once with no per-source parts (taskemb): run on the driver.
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
from ..errors import HubError
from ..hub.catalog import HubEntry
from ..hub.hub import Hub
from ..hub.packed import BLOCK_SIZE, ensure_pack
from .compatibility import split_compatible
from .context import MethodScores, RankContext, gather
from .registry import Execution, get_method


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


def score_shard(method: str, shard: Shard) -> Any:
    """``method``'s per-source scores or parts of one shard (in a worker process)."""
    os.environ.setdefault("STEPSTONE_WORKERS", "1")  # one core per job: no oversubscription
    encoder = Encoder(**shard.encoder, show_progress=False)
    _, wrong = split_compatible(list(shard.entries), encoder.spec.to_dict(),
                                pairs=shard.task.is_pair)
    if wrong:  # the driver filters them out; a shard built by hand may not have
        raise HubError(f"{len(wrong)} ESM(s) of this shard were made for another embedding than "
                       f"{encoder.spec.model_name}'s (e.g. {wrong[0].esm_id}: {wrong[0].reason}):"
                       " keep only compatible entries (stepstone.rank.compatibility)")
    ctx = RankContext(task=shard.task, hub=Hub(shard.hub_root), entries=list(shard.entries),
                      encoder=encoder, show_progress=False, seed=shard.seed,
                      models_dir=Path(shard.models_dir) if shard.models_dir else None)
    ctx.__dict__["features"] = shard.features  # cached_property: no embedding in the worker
    return get_method(method).func(ctx)


def run_method(method: str, ctx: RankContext, *, executor: Executor | None = None,
               shards: int | None = None) -> MethodScores:
    """``method`` over ``ctx.entries``: in this process, or sharded on ``executor``."""
    info = get_method(method)
    if executor is None or isinstance(executor, LocalExecutor) or \
            info.execution is Execution.WHOLE:
        return info.run(ctx)
    if info.execution is Execution.COMPOSED:
        return info.compose(ctx, lambda name, sub: run_method(name, sub, executor=executor,
                                                              shards=shards))
    if not ctx.entries:
        return info.run(ctx)
    # workers must find a fresh pack, not race to build one
    ensure_pack(ctx.hub, ctx.features.shape[1], show_progress=ctx.show_progress)
    jobs = [Job(key=f"shard-{i}", fn=score_shard, args=(method, shard))
            for i, shard in enumerate(_shards(ctx, shards))]
    parts = []
    for outcome in executor.run(jobs):
        if outcome.error is not None:
            raise outcome.error
        parts.append(outcome.result)
    merged = gather(parts, [e.id for e in ctx.entries])
    return info.combine(merged) if info.combine is not None else merged


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
