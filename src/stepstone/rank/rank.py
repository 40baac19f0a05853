"""rank_sources: rank every source of a hub for one target."""

from __future__ import annotations

import collections
import logging
import os
import time
from pathlib import Path
from typing import Any

from .. import __version__
from .._env import default_hub_path
from ..data.loaders import load_task
from ..data.task import TaskData, TaskType
from ..encode.encoder import Encoder
from ..encode.models import canonical_model_name
from ..engines import Engine, Executor, get_executor
from ..errors import HubError
from ..esm.embedding import expected_embedding
from ..hub.catalog import HubEntry
from ..hub.hub import Hub
from .diverse import select_diverse
from .methods import RankContext
from .ranking import RankedSource, Ranking, Skipped
from .sharded import run_method
from .target_checks import check_target_size, class_counts

logger = logging.getLogger(__name__)


def rank_sources(target: str | os.PathLike | TaskData | Any, *, hub: Hub | str | os.PathLike |
                 None = None, method: str = "esm-logme", model_name: str | None = None,
                 num_examples: int | None = None, seed: int = 42, text_column: str | None = None,
                 pair_column: str | None = None, label_column: str | None = None,
                 task_type: TaskType | str | None = None, split: str | None = None,
                 include_target: bool = False, encoder: Encoder | None = None,
                 filters: dict[str, Any] | None = None, device: str | None = None,
                 models_dir: str | os.PathLike | None = None, diverse: int | None = None,
                 diversity: float = 0.5, diverse_by: str = "esm",
                 diverse_objective: str = "mmr", precision: str = "float32",
                 engine: Engine | str = Engine.LOCAL, executor: Executor | None = None,
                 show_progress: bool | None = None) -> Ranking:
    """Rank the hub's sources for ``target`` (anything :func:`stepstone.data.load_task` reads).

    ``method`` is any name of :func:`stepstone.rank.available_methods` (README, "Ranking
    methods"); methods that use the fine-tuned source models read them from ``models_dir``
    (or ``$STEPSTONE_MODELS``). ``diverse=k`` also picks a set of k good, mutually dissimilar
    sources into ``Ranking.selected`` (``diversity`` weighs dissimilarity against score,
    ``diverse_by`` is ``esm`` or ``textemb``; ``diverse_objective`` is ``mmr``, ``coverage``
    or ``ms-leep``, see :mod:`stepstone.rank.diverse`).

    The base model defaults to the one the hub's ESMs were made for. ESMs for another base
    model or embedding size, broken ESM files and non-finite scores are left out and listed in
    ``Ranking.skipped``; the target's own task, when the hub has it, is listed in
    ``Ranking.excluded`` (or ranked, marked, with ``include_target=True``). ``precision``
    ("float32" or "bfloat16") is the encoder's forward pass arithmetic. ``engine="ray"`` (or an
    ``executor``) scores the hub in shards on Ray workers; the ranking is the same.
    """
    started = time.perf_counter()
    hub = hub if isinstance(hub, Hub) else Hub(hub if hub is not None else default_hub_path())
    task = load_task(target, text_column=text_column, pair_column=pair_column,
                     label_column=label_column, task_type=task_type, split=split,
                     num_examples=num_examples, seed=seed)
    warnings = check_target_size(task, method)  # refuses a class of one example, first
    for warning in warnings:
        logger.info("%s", warning)  # the CLI prints them with the table; str(Ranking) too
    entries = hub.entries(**(filters or {}))
    skipped = [Skipped(i, why) for i, why in sorted(hub.broken.items())]
    expected = _expected_embeddings(entries)
    if encoder is None:
        spec = _hub_spec(entries, expected, hub, model_name)
        encoder = Encoder(spec.get("model_name") or model_name, pooling=spec.get("pooling"),
                          max_length=spec.get("max_length", 128),
                          pair_mode=spec.get("pair_mode", "tokenizer"), device=device,
                          show_progress=show_progress, precision=precision)
    entries, more_skipped = _compatible(entries, expected, encoder, pairs=task.is_pair)
    skipped += more_skipped
    if not entries:
        example = f" (e.g. {skipped[0].esm_id}: {skipped[0].reason})" if skipped else ""
        raise HubError(f"no ESM in hub {hub.root} can be used with {encoder.spec.model_name} "
                       f"({encoder.spec.pooling.value} pooling){example}")
    entries, excluded = _split_target(entries, task, include_target)
    timings = {"load": time.perf_counter() - started}
    ctx = RankContext(task=task, hub=hub, entries=entries, encoder=encoder,
                      show_progress=show_progress, seed=seed,
                      models_dir=Path(models_dir).expanduser() if models_dir else None)
    t0 = time.perf_counter()
    _ = ctx.features
    timings["embed"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = run_method(method, ctx, executor=executor or get_executor(engine))
    timings["score"] = time.perf_counter() - t0
    skipped += [Skipped(i, why) for i, why in sorted(result.skipped.items())]
    by_id = {e.id: e for e in entries}
    order = sorted(result.scores.items(), key=lambda kv: (-kv[1], kv[0]))
    sources = [_ranked(rank, by_id[esm_id], score) for rank, (esm_id, score) in
               enumerate(order, start=1)]
    selected, selection = [], {}
    if diverse:
        t0 = time.perf_counter()
        selected, selection = select_diverse(ctx, sources, k=diverse, tradeoff=diversity,
                                             by=diverse_by, objective=diverse_objective)
        timings["diverse"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - started
    for s in skipped:
        logger.warning("left out %s: %s", s.esm_id, s.reason)
    return Ranking(target={**task.summary(), "class_counts": class_counts(task)},
                   method=method, sources=sources, skipped=skipped, excluded=excluded,
                   hub=str(hub.root),
                   embedding={**encoder.spec.to_dict(), "precision": encoder.precision.value},
                   timings=timings, library_version=__version__, selected=selected,
                   selection=selection, warnings=warnings)


def _expected_embeddings(entries: list[HubEntry]) -> dict[str, dict[str, Any]]:
    """esm id -> the embedding spec its ESM expects (hfselect's for ESMs that record none)."""
    hfselect: dict[str, dict[str, Any]] = {}  # one look-up per base model, not per ESM
    out = {}
    for entry in entries:
        if entry.config.get("stepstone", {}).get("embedding"):
            out[entry.id] = expected_embedding(entry.base_model, entry.config)
        else:
            if entry.base_model not in hfselect:
                hfselect[entry.base_model] = expected_embedding(entry.base_model, {})
            out[entry.id] = hfselect[entry.base_model]
    return out


def _hub_spec(entries: list[HubEntry], expected: dict[str, dict[str, Any]], hub: Hub,
              model_name: str | None) -> dict[str, Any]:
    """The embedding to use: the most common one the entries expect (among those for
    ``model_name`` when given)."""
    if model_name is None and not entries:
        raise HubError(f"hub {hub.root} has no ESMs (matching the filters) to rank")
    wanted = canonical_model_name(model_name) if model_name else None
    specs = [tuple(sorted(expected[e.id].items())) for e in entries
             if not wanted or canonical_model_name(e.base_model) == wanted]
    if not specs:
        return {"model_name": model_name}
    spec = dict(collections.Counter(specs).most_common(1)[0][0])
    if model_name:
        spec["model_name"] = model_name  # keep the caller's spelling (a local folder, say)
    return spec


def _compatible(entries: list[HubEntry], expected: dict[str, dict[str, Any]], encoder: Encoder,
                *, pairs: bool) -> tuple[list[HubEntry], list[Skipped]]:
    """Keep ESMs made for this encoder's embedding: same base model, pooling and max length,
    and for a target of text pairs the same way of joining them (an ESM maps one embedding
    space; another one gives meaningless scores)."""
    spec = encoder.spec
    keep, skipped = [], []
    for entry in entries:
        want = expected[entry.id]
        if canonical_model_name(entry.base_model) != spec.model_name:
            skipped.append(Skipped(entry.id, f"made for base model {entry.base_model!r}, the "
                                             f"target is embedded with {spec.model_name!r}"))
        elif want.get("pooling") != spec.pooling.value or \
                want.get("max_length") != spec.max_length:
            skipped.append(Skipped(entry.id, f"made for {want.get('pooling')} pooling, "
                                             f"max length {want.get('max_length')}; the target "
                                             f"uses {spec.pooling.value}, {spec.max_length}"))
        elif pairs and want.get("pair_mode", "tokenizer") != spec.pair_mode.value:
            skipped.append(Skipped(entry.id, f"made for text pairs joined as "
                                             f"{want.get('pair_mode', 'tokenizer')!r}; the target "
                                             f"uses {spec.pair_mode.value!r}"))
        else:
            keep.append(entry)
    return keep, skipped


def _split_target(entries: list[HubEntry], task: TaskData, include: bool
                  ) -> tuple[list[HubEntry], list[Skipped]]:
    """Find the target's own task among the sources (same name or same source location)."""
    location = task.origin.location
    same = []
    for entry in entries:
        source = entry.config.get("stepstone", {}).get("source", {}).get("location")
        if entry.task_name == task.name or (
                source and location != "<memory>" and _same_path(source, location)):
            same.append(entry)
    if include or not same:
        return entries, []
    ids = {e.id for e in same}
    return ([e for e in entries if e.id not in ids],
            [Skipped(e.id, "the target's own task") for e in same])


def _same_path(a: str, b: str) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return a == b


def _ranked(rank: int, entry: HubEntry, score: float) -> RankedSource:
    return RankedSource(rank=rank, esm_id=entry.id, task_name=entry.task_name, score=score,
                        task_type=entry.task_type, num_examples=entry.num_examples,
                        fit_cosine=entry.fit_cosine)
