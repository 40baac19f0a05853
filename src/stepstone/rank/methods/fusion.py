"""Rank fusion of several methods: ``fusion:esm-logme,textemb`` (reciprocal rank fusion; also
``fusion-rrf:...``) and ``fusion-z:...`` (mean of per-method z-scores).

Each listed method runs on the same context (so the target is embedded once). A source is
fused only when every method scored it; otherwise it is left out, with each method's reason.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np

from ...errors import InvalidOptionError
from ...scores.selection import reciprocal_rank_fusion, zscore_fusion
from ..context import MethodScores, RankContext
from ..registry import (MethodFamily, MethodInfo, PoolUse, Reference, Runner, get_method,
                       register_prefix)


def parse_components(argument: str, prefix: str) -> list[MethodInfo]:
    names = [n.strip() for n in argument.split(",") if n.strip()]
    if len(names) < 2 or len(set(names)) != len(names):
        raise InvalidOptionError(f"{prefix}: needs two or more different methods, e.g. "
                                 f"{prefix}:esm-logme,textemb (got {argument!r})")
    nested = [n for n in names if ":" in n]
    if nested:
        raise InvalidOptionError(f"{prefix}: methods cannot be nested ({', '.join(nested)})")
    return [get_method(name) for name in names]  # unknown names fail now, before anything runs


def fuse(results: dict[str, MethodScores], combine: Callable[[np.ndarray], np.ndarray]
         ) -> MethodScores:
    """Combine per-method scores of the sources every method scored."""
    out = MethodScores()
    everyone = set.union(*(set(r.scores) | set(r.skipped) for r in results.values()))
    common = sorted(set.intersection(*(set(r.scores) for r in results.values())))
    for esm_id in sorted(everyone - set(common)):
        reasons = [f"{name}: {r.skipped.get(esm_id, 'not scored')}"
                   for name, r in results.items() if esm_id not in r.scores]
        out.skipped[esm_id] = "; ".join(reasons)
    if common:
        matrix = np.array([[r.scores[i] for i in common] for r in results.values()])
        for esm_id, value in zip(common, combine(matrix)):
            out.add(esm_id, value)
        references = [r.reference for r in results.values()]
        if all(ref is not None for ref in references):
            # "no intermediate step" fused as one more candidate; the sources keep the values
            # fused without it, so it is placed where it would rank among them
            fused = combine(np.column_stack([matrix, references]))[-1]
            out.reference = float(fused) if np.isfinite(fused) else None
    return out


def fused(ctx: RankContext, run: Runner, *, names: tuple[str, ...],
          combine: Callable[[np.ndarray], np.ndarray]) -> MethodScores:
    """Each component over the whole pool (sharded by its own record), then fused: ranks and
    z-scores need every source at once."""
    return fuse({name: run(name, ctx) for name in names}, combine)


def fusion_method(argument: str, *, prefix: str,
                  combine: Callable[[np.ndarray], np.ndarray]) -> MethodInfo:
    parts = parse_components(argument, prefix)
    names = tuple(p.name for p in parts)
    kinds = {p.reference for p in parts}
    return MethodInfo(
        f"{prefix}:{','.join(names)}", f"{prefix} of {', '.join(names)}",
        needs=frozenset().union(*(p.needs for p in parts)), pool=PoolUse.FUSED,
        targets=frozenset.intersection(*(p.targets for p in parts)),
        # "no intermediate step" is fused too when every component has it
        reference=kinds.pop() if len(kinds) == 1 else Reference.IDENTITY_MAP,
        uses_labels=any(p.uses_labels for p in parts),
        compose=partial(fused, names=names, combine=combine), components=names)


for _prefix, _combine, _what in [
        ("fusion", reciprocal_rank_fusion, "reciprocal rank fusion"),
        ("fusion-rrf", reciprocal_rank_fusion, "reciprocal rank fusion (explicit name)"),
        ("fusion-z", zscore_fusion, "mean of per-method z-scores")]:
    register_prefix(MethodFamily(_prefix, f"{_what} of two or more methods",
                                 f"{_prefix}:esm-logme,textemb",
                                 partial(fusion_method, prefix=_prefix, combine=_combine)))
