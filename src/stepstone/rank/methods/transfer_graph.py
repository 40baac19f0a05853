"""``transfer-graph``: rank sources from measured transfers to other tasks (TaskShop-style,
after Kim et al. 2023, TaskWeb; reference/metrics.md §2.4).

The measured transfer table is the one the hub's advice model was fitted on
(``calibration.json``: every (pivot target, source) cell of a ground-truth grid, as a gain in
points). For a new target t and a source s:

    score(s -> t) = λ · Σ_p w_p · T̂(s -> p) / Σ_p w_p + (1 − λ) · Ŝ(s, t),    λ = 0.7

over the pivots p (measured targets other than t, and other than s itself) on which s was
measured, with T̂ the gain min-max scaled per pivot, Ŝ the similarity of a task's ESM to the
target by the similarity method (``esm-logme`` by default, or ``transfer-graph:textemb``)
min-max scaled over the hub, and pivot weights w_p = Ŝ(p, t). TaskShop's released formula
averages ½·T(s→p) + ½·Sim(p, t) over pivots; when every source is measured on the same pivots
its pivot-similarity term is the same for all sources and drops out of the ranking, so here the
similarity weighs each pivot's transfer instead. A source measured on no pivot gets the mean
transfer term of the measured ones (unknown counts as average).

The target's own cells are never used (it is never its own pivot), so this can be evaluated on
the grid it was fitted on, target by target.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from functools import partial
from pathlib import Path

import numpy as np

from ...errors import AdviceError, InvalidOptionError
from ..context import MethodScores, RankContext
from ..registry import (MethodFamily, MethodInfo, Need, PoolUse, Runner, get_method, register,
                       register_prefix)

logger = logging.getLogger(__name__)

LAMBDA = 0.7
DEFAULT_SIMILARITY = "esm-logme"


def minmax(values: np.ndarray) -> np.ndarray:
    """Scale to [0, 1] (all 0.5 when constant). Shapes: (n,) -> (n,)."""
    values = np.asarray(values, dtype=np.float64)
    span = np.ptp(values) if len(values) else 0.0
    return (values - values.min()) / span if span > 0 else np.full(len(values), 0.5)


def transfer_table(ctx: RankContext) -> dict[str, dict[str, float]]:
    """pivot target -> source task name -> measured gain (points), from the advice model."""
    from ..advice import ADVICE_FILE, AdviceModel

    path = ctx.advice_path or ctx.hub.root / ADVICE_FILE
    if not path.is_file():
        raise InvalidOptionError(
            f"transfer-graph needs measured transfers: no {path.name} at {path.parent}; make "
            f"one with `stepstone bench calibrate --grid GRID --hub {ctx.hub.root}`")
    try:
        model = AdviceModel.load(path)
    except AdviceError as err:
        raise InvalidOptionError(f"transfer-graph: {err}") from err
    table: dict[str, dict[str, float]] = defaultdict(dict)
    for cell in model.cells:
        table[cell["target"]][cell["source"]] = float(cell["gain"])
    return dict(table)


def is_transfer_graph(method: str) -> bool:
    """``transfer-graph`` or one of its ``transfer-graph:...`` variants."""
    return method.split(":")[0] == "transfer-graph"


def stale_table(hub_root: Path, grid_name: str) -> str | None:
    """Why the hub's transfer table (its calibration.json, what :func:`transfer_table` reads
    when no advice file is given) is not grid ``grid_name``'s own; None when it is."""
    import json

    from ..advice import ADVICE_FILE

    path = Path(hub_root) / ADVICE_FILE
    try:
        fitted = json.loads(path.read_text(encoding="utf-8"))["grid"]["name"]
    except (OSError, ValueError, KeyError, TypeError):
        fitted = None
    if fitted == grid_name:
        return None
    table = f"grid {fitted}'s measured transfers" if fitted else "no readable transfer table"
    return (f"transfer-graph is judged with {table} ({path}), not grid {grid_name}'s: run "
            f"`stepstone bench calibrate --grid {grid_name}` first, then evaluate again")


def graph_scores(table: dict[str, dict[str, float]], similarity: dict[str, float],
                 candidates: list[str], target: str, *, lam: float = LAMBDA
                 ) -> dict[str, float]:
    """The score of every candidate (task names). ``similarity``: task name -> raw similarity
    to the target of candidates and pivots (scaled here over all of them)."""
    names = sorted(similarity)
    scaled = dict(zip(names, minmax(np.array([similarity[n] for n in names]))))
    pivots = [p for p in table if p != target and p in scaled]
    t_hat = {p: dict(zip(table[p], minmax(np.array(list(table[p].values()))))) for p in pivots}
    prior: dict[str, float] = {}
    for s in candidates:
        mine = [p for p in pivots if p != s and s in t_hat[p]]
        if mine:
            w = np.array([scaled[p] for p in mine])
            w = w if w.sum() > 0 else np.ones(len(mine))
            prior[s] = float(np.dot(w, [t_hat[p][s] for p in mine]) / w.sum())
    fallback = float(np.mean(list(prior.values()))) if prior else 0.5
    return {s: lam * prior.get(s, fallback) + (1 - lam) * scaled[s] for s in candidates}


def transfer_graph(ctx: RankContext, run: Runner, *, similarity: str) -> MethodScores:
    """The similarity method over the entries and the pivots (sharded by its own record),
    then the graph scores, scaled over the hub, on the driver."""
    table = transfer_table(ctx)
    own = {e.task_name for e in ctx.entries}
    pivots = [e for e in ctx.hub.entries() if e.task_name in table
              and e.task_name not in own and e.task_name != ctx.task.name]
    scored_ctx = RankContext(task=ctx.task, hub=ctx.hub, entries=ctx.entries + pivots,
                             encoder=ctx.encoder, show_progress=ctx.show_progress,
                             models_dir=ctx.models_dir, seed=ctx.seed)
    scored_ctx.__dict__["features"] = ctx.features  # embedded once
    sims = run(similarity, scored_ctx)
    out = MethodScores()
    names = {e.id: e.task_name for e in scored_ctx.entries}
    candidates = [e for e in ctx.entries if e.id in sims.scores]
    for e in ctx.entries:
        if e.id not in sims.scores:
            out.skipped[e.id] = f"{similarity}: {sims.skipped.get(e.id, 'not scored')}"
    if not candidates:
        return out
    similarity_by_name = {names[i]: v for i, v in sims.scores.items()}
    scores = graph_scores(table, similarity_by_name, [e.task_name for e in candidates],
                          ctx.task.name)
    for e in candidates:
        out.add(e.id, scores[e.task_name])
    return out


def transfer_graph_method(similarity: str) -> MethodInfo:
    if similarity.startswith("transfer-graph") or ":" in similarity:
        raise InvalidOptionError(f"transfer-graph:{similarity}: the similarity must be a plain "
                                 "method such as esm-logme or textemb")
    sim = get_method(similarity)  # unknown names fail now
    name = "transfer-graph" if similarity == DEFAULT_SIMILARITY else f"transfer-graph:{similarity}"
    return MethodInfo(
        name, f"TaskShop-style transfer graph with {similarity} similarity",
        needs=sim.needs | {Need.TRANSFERS}, pool=PoolUse.NORMALISED, targets=sim.targets,
        uses_labels=sim.uses_labels, compose=partial(transfer_graph, similarity=similarity),
        components=(similarity,))


register(transfer_graph_method(DEFAULT_SIMILARITY))
register_prefix(MethodFamily(
    "transfer-graph", "transfer graph with another similarity method",
    "transfer-graph:textemb", lambda argument: transfer_graph_method(
        argument.strip() or DEFAULT_SIMILARITY), PoolUse.NORMALISED))
