"""rank_sources: rank every source of a hub for one target."""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .. import __version__
from .._env import default_hub_path
from ..data.loaders import load_task
from ..data.task import TaskData
from ..encode.encoder import Encoder
from ..encode.models import canonical_model_name
from ..engines import get_executor
from ..errors import HubError
from ..hub.catalog import HubEntry
from ..hub.hub import Hub
from .compatibility import expected_embeddings, split_compatible
from .advice import ADVICE_FILE, AdviceModel, advise, inputs_for, load_advice
from .diverse import select_diverse
from .context import RankContext
from .evidence import advice_skill
from .registry import MethodInfo, Reference, default_method, get_method
from .options import (EmbeddingOptions, ExecutionOptions, SelectionOptions, TargetOptions,
                      split_options)
from .ranking import REFERENCE_NAME, RankedSource, Ranking, Skipped
from .recommend import recommend_from_hub
from .sharded import run_method
from .stability import ranking_stability
from .target_checks import check_target_size, class_counts

logger = logging.getLogger(__name__)


def rank_sources(target: str | os.PathLike | TaskData | Any, *,
                 hub: Hub | str | os.PathLike | None = None, method: str | None = None,
                 data: TargetOptions | None = None, embedding: EmbeddingOptions | None = None,
                 selection: SelectionOptions | None = None,
                 execution: ExecutionOptions | None = None, **options: Any) -> Ranking:
    """Rank the hub's sources for ``target`` (anything :func:`stepstone.data.load_task` reads).

    ``method`` is any name of :func:`stepstone.rank.available_methods` (README, "Ranking
    methods"); None ranks by the first of :data:`~stepstone.rank.registry.DEFAULT_METHODS`
    that the hub can serve (a method passed over is named in ``Ranking.warnings``). The
    options come in four groups (:mod:`stepstone.rank.options`): ``data`` (which columns, split
    and sample of the target), ``embedding`` (base model, device, precision), ``selection``
    (filters, the target's own task, kept models, a diverse top-k, the advice model) and
    ``execution`` (engine or executor, progress bars). Any field of a group may also be passed
    by name, e.g. ``rank_sources(t, num_examples=1000, diverse=3)``.

    The base model defaults to the one the hub's ESMs were made for. ESMs for another base
    model or embedding size, broken ESM files and non-finite scores are left out and listed in
    ``Ranking.skipped``; the target's own task, when the hub has it, is listed in
    ``Ranking.excluded`` (or ranked, marked, with ``include_target=True``). ``Ranking.reference``
    is "no intermediate step" scored by the same method (each source gets its ``margin`` over
    it); with an advice model for this method and hub (``calibration.json`` beside the hub, or
    ``advice=PATH``) whose stored leave-one-target-out evaluation shows skill, every source
    gets its predicted gain. ``Ranking.stability`` re-ranks the leading sources on bootstrap
    resamples of the target (``stability``, ``resamples``, ``stability_leading``), and
    ``Ranking.recommendation`` cites the benchmark's measured gain@k from ``evidence.json``
    beside the hub (:mod:`stepstone.rank.recommend`).
    ``engine="ray"`` (or an ``executor``) scores the hub in shards on Ray workers; the ranking
    is the same.
    """
    data, embedding, selection, execution = split_options(options, {
        TargetOptions: data, EmbeddingOptions: embedding, SelectionOptions: selection,
        ExecutionOptions: execution})
    started = time.perf_counter()
    # a typo fails here, before any data, model or embedding
    info = get_method(method) if method is not None else None
    hub = hub if isinstance(hub, Hub) else Hub(hub if hub is not None else default_hub_path())
    passed_over: list[str] = []
    if info is None:
        method, passed_over = default_method(hub, embedding.model_name or (
            embedding.encoder.spec.model_name if embedding.encoder is not None else None))
        info = get_method(method)
    task = load_task(target, text_column=data.text_column, pair_column=data.pair_column,
                     label_column=data.label_column, task_type=data.task_type,
                     split=data.split, num_examples=data.num_examples, seed=data.seed)
    info.check_target(task.task_type)  # before the (long) embedding
    warnings = passed_over + check_target_size(task, method)  # refuses a class of one, first
    for warning in warnings:
        logger.info("%s", warning)  # the CLI prints them with the table; str(Ranking) too
    entries = hub.entries(**(selection.filters or {}))
    skipped = [Skipped(i, why) for i, why in sorted(hub.broken.items())]
    encoder, entries, more_skipped = _encoder_and_entries(hub, entries, embedding, task,
                                                          execution.show_progress)
    skipped += more_skipped
    entries, excluded = _split_target(entries, task, selection.include_target)
    timings = {"load": time.perf_counter() - started}
    models_dir = selection.models_dir
    ctx = RankContext(task=task, hub=hub, entries=entries, encoder=encoder,
                      show_progress=execution.show_progress, seed=data.seed,
                      models_dir=Path(models_dir).expanduser() if models_dir else None,
                      advice_path=_advice_path(selection.advice))
    with _timed(timings, "embed"):
        _ = ctx.features
    with _timed(timings, "score"):
        result = run_method(method, ctx,
                            executor=execution.executor or get_executor(execution.engine))
    skipped += [Skipped(i, why) for i, why in sorted(result.skipped.items())]
    sources, reference = _ordered(entries, result, info)
    with _timed(timings, "stability"):
        stability = ranking_stability(ctx, method, [(s.esm_id, s.task_name, s.score)
                                                    for s in sources],
                                      mode=selection.stability, resamples=selection.resamples,
                                      leading=selection.stability_leading, seed=data.seed)
    if stability is None:
        del timings["stability"]  # not asked for: no time to report
    with _timed(timings, "advice"):
        sources, advice, advice_status = _advice(method, ctx, sources, reference,
                                                 selection.advice)
        recommendation = None if selection.advice is False else recommend_from_hub(
            hub.root, method=method, sources=sources, stability=stability, advice=advice,
            advice_status=advice_status, target=task.summary())
    selected, chosen = [], {}
    if selection.diverse:
        with _timed(timings, "diverse"):
            selected, chosen = select_diverse(ctx, sources, k=selection.diverse,
                                              tradeoff=selection.diversity,
                                              by=selection.diverse_by,
                                              objective=selection.diverse_objective)
    timings["total"] = time.perf_counter() - started
    for s in skipped:
        logger.warning("left out %s: %s", s.esm_id, s.reason)
    return Ranking(target={**task.summary(), "class_counts": class_counts(task)},
                   method=method, sources=sources, skipped=skipped, excluded=excluded,
                   hub=str(hub.root),
                   embedding={**encoder.spec.to_dict(), "precision": encoder.precision.value},
                   timings=timings, library_version=__version__, selected=selected,
                   selection=chosen, warnings=warnings, reference=reference,
                   recommendation=recommendation, stability=stability)


def _ordered(entries: list[HubEntry], result: Any, info: MethodInfo
             ) -> tuple[list[RankedSource], dict[str, Any] | None]:
    """The scored sources best first (ties by id) and the "no intermediate step" reference."""
    by_id = {e.id: e for e in entries}
    order = sorted(result.scores.items(), key=lambda kv: (-kv[1], kv[0]))
    sources = [_ranked(rank, by_id[esm_id], score, result.reference) for rank, (esm_id, score)
               in enumerate(order, start=1)]
    return sources, _reference(info, result.reference, sources)


@contextlib.contextmanager
def _timed(timings: dict[str, float], phase: str) -> Iterator[None]:
    """Record the seconds the ``with`` block takes as ``timings[phase]``."""
    started = time.perf_counter()
    try:
        yield
    finally:
        timings[phase] = time.perf_counter() - started


def _advice_path(option: Any) -> Path | None:
    return Path(option).expanduser() if option not in (None, True, False) else None


def _encoder_and_entries(hub: Hub, entries: list[HubEntry], options: EmbeddingOptions,
                         task: TaskData, show_progress: bool | None
                         ) -> tuple[Encoder, list[HubEntry], list[Skipped]]:
    """The encoder (the hub's embedding unless given) and the entries made for it."""
    expected = expected_embeddings(entries)
    encoder = options.encoder
    if encoder is None:
        spec = _hub_spec(entries, expected, hub, options.model_name)
        encoder = Encoder(spec.get("model_name") or options.model_name,
                          pooling=spec.get("pooling"), max_length=spec.get("max_length", 128),
                          pair_mode=spec.get("pair_mode", "tokenizer"), device=options.device,
                          show_progress=show_progress, precision=options.precision)
    entries, skipped = split_compatible(entries, encoder.spec.to_dict(), pairs=task.is_pair,
                                        expected=expected)
    if not entries:
        example = f" (e.g. {skipped[0].esm_id}: {skipped[0].reason})" if skipped else ""
        raise HubError(f"no ESM in hub {hub.root} can be used with {encoder.spec.model_name} "
                       f"({encoder.spec.pooling.value} pooling){example}")
    return encoder, entries, skipped


def _reference(info: MethodInfo, score: float | None, sources: list[RankedSource]
               ) -> dict[str, Any] | None:
    """The reference row: its score, where it would rank, and what it is."""
    if score is None:
        return None
    kind = (info.reference if info.reference is not Reference.NONE
            else Reference.IDENTITY_MAP).value
    return {"name": REFERENCE_NAME, "score": score, "kind": kind,
            "rank": 1 + sum(s.score > score for s in sources), "of": len(sources) + 1}


def _advice(method: str, ctx: RankContext, sources: list[RankedSource],
            reference: dict[str, Any] | None, option: Any
            ) -> tuple[list[RankedSource], dict[str, Any] | None, dict[str, Any] | None]:
    """Fill in the predicted gains when an advice model for this method and hub exists and
    its stored evaluation shows skill; returns the sources, the model's recommendation and
    whether the gain columns are shown and why (None without a model)."""
    if reference is None or not sources or option is False:
        return sources, None, None
    own = get_method(method).own_advice
    if own is not None:  # its scores are predicted gains (the learned selector)
        return own(ctx, sources)
    spec = ctx.encoder.spec

    def check(model: AdviceModel, origin: str) -> None:
        model.check(model_name=spec.model_name, pooling=spec.pooling.value,
                    max_length=spec.max_length, entries=ctx.hub.entries(), origin=origin,
                    hub=str(ctx.hub.root))

    model = load_advice(option, hub_root=ctx.hub.root, check=check)
    if model is None:
        return sources, None, None
    if model.method != method:
        logger.info("the advice model is for %s, not %s: no gain columns", model.method, method)
        return sources, None, None
    origin = str(ctx.advice_path or ctx.hub.root / ADVICE_FILE)
    skilled, reason = advice_skill(model.evaluation, model.grid.get("name"))
    status = {"shown": skilled, "reason": reason, "path": origin}
    if not skilled:
        return sources, None, status
    textemb = None
    if "textemb" in model.features:
        from .methods.baselines import textemb as textemb_method

        textemb = textemb_method(ctx).scores
    inputs = inputs_for(sources, reference["score"], {e.id: e for e in ctx.entries},
                        textemb=textemb, target_rows=len(ctx.task),
                        regression=ctx.task.is_regression)
    return (*advise(model, sources, inputs, ctx.task.summary(), origin=origin), status)


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


def _split_target(entries: list[HubEntry], task: TaskData, include: bool
                  ) -> tuple[list[HubEntry], list[Skipped]]:
    """Find the target's own task among the sources (same name or same source location)."""
    location = task.origin.location
    same = []
    for entry in entries:
        source = entry.block.source.location
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


def _ranked(rank: int, entry: HubEntry, score: float, reference: float | None
            ) -> RankedSource:
    return RankedSource(rank=rank, esm_id=entry.id, task_name=entry.task_name, score=score,
                        task_type=entry.task_type, num_examples=entry.num_examples,
                        fit_cosine=entry.fit_cosine,
                        margin=None if reference is None else score - reference)
