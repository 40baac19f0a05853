"""Rank fusion of several methods: ``fusion:esm-logme,textemb`` (reciprocal rank fusion; also
``fusion-rrf:...``) and ``fusion-z:...`` (mean of per-method z-scores).

Each listed method runs on the same context (so the target is embedded once). A source is
fused only when every method scored it; otherwise it is left out, with each method's reason.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..errors import InvalidOptionError
from ..scores.selection import reciprocal_rank_fusion, zscore_fusion
from .methods import MethodScores, RankContext, get_method, register_prefix


def parse_components(argument: str, prefix: str) -> list[str]:
    names = [n.strip() for n in argument.split(",") if n.strip()]
    if len(names) < 2 or len(set(names)) != len(names):
        raise InvalidOptionError(f"{prefix}: needs two or more different methods, e.g. "
                                 f"{prefix}:esm-logme,textemb (got {argument!r})")
    nested = [n for n in names if ":" in n]
    if nested:
        raise InvalidOptionError(f"{prefix}: methods cannot be nested ({', '.join(nested)})")
    for name in names:
        get_method(name)  # unknown names fail now, before anything runs
    return names


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


def fusion_method(argument: str, *, prefix: str,
                  combine: Callable[[np.ndarray], np.ndarray]
                  ) -> Callable[[RankContext], MethodScores]:
    names = parse_components(argument, prefix)

    def method(ctx: RankContext) -> MethodScores:
        return fuse({name: get_method(name)(ctx) for name in names}, combine)

    method.__doc__ = f"{prefix} of {', '.join(names)}"
    # a sharded run (engine "ray") scores each component over the whole hub, then fuses: ranks
    # and z-scores need every source at once
    method.components, method.combine = names, combine  # type: ignore[attr-defined]
    return method


@register_prefix("fusion")
def rrf_fusion(argument: str) -> Callable[[RankContext], MethodScores]:
    return fusion_method(argument, prefix="fusion", combine=reciprocal_rank_fusion)


@register_prefix("fusion-rrf")
def rrf_fusion_explicit(argument: str) -> Callable[[RankContext], MethodScores]:
    return fusion_method(argument, prefix="fusion-rrf", combine=reciprocal_rank_fusion)


@register_prefix("fusion-z")
def z_fusion(argument: str) -> Callable[[RankContext], MethodScores]:
    return fusion_method(argument, prefix="fusion-z", combine=zscore_fusion)
