"""Option groups of :func:`stepstone.rank.rank_sources`: how to read the target, how to embed
it, what to select and how to run.

Each group is a small frozen dataclass with the defaults ``rank_sources`` always had. The flat
keyword arguments (``num_examples=1000``, ``diverse=3``...) still work: :func:`split_options`
routes each one to its group, so existing callers and the CLI flags are unchanged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from typing import Any

from ..data.task import TaskType
from ..encode.encoder import Encoder
from ..engines import Engine, Executor
from ..errors import InvalidOptionError


@dataclass(frozen=True)
class TargetOptions:
    """Which part of the target dataset to read (see :func:`stepstone.data.load_task`)."""

    text_column: str | None = None
    pair_column: str | None = None
    label_column: str | None = None
    task_type: TaskType | str | None = None
    split: str | None = None
    #: a seeded random sample of this many examples (None: all)
    num_examples: int | None = None
    #: seed of the sample, and of the randomised methods
    seed: int = 42


@dataclass(frozen=True)
class EmbeddingOptions:
    """How the target is embedded: the hub's base model unless ``model_name`` or ``encoder``."""

    model_name: str | None = None
    encoder: Encoder | None = None
    device: str | None = None
    #: the encoder's forward-pass arithmetic: "float32" or "bfloat16"
    precision: str = "float32"


@dataclass(frozen=True)
class SelectionOptions:
    """Which sources take part and what is chosen besides the order."""

    #: catalog filters of :meth:`stepstone.hub.Hub.entries` (e.g. ``{"ids": [...]}``)
    filters: dict[str, Any] | None = None
    #: also rank the target's own task when the hub holds it
    include_target: bool = False
    #: kept fine-tuned source models, for the methods on tuned models
    models_dir: str | os.PathLike | None = None
    #: pick a diverse top-k set of this size into ``Ranking.selected``
    diverse: int | None = None
    diversity: float = 0.5
    diverse_by: str = "esm"
    #: mmr, coverage or ms-leep (:mod:`stepstone.rank.diverse`)
    diverse_objective: str = "mmr"
    #: the advice model (predicted gain, recommendation): None = the hub's own
    #: ``calibration.json`` when there is one, False = none, or the path of a model file
    advice: str | os.PathLike | bool | None = None
    #: re-rank the leading sources on resamples of the target (``Ranking.stability``):
    #: "auto" (methods with a fast path), "on" or "off"; see :mod:`stepstone.rank.stability`
    stability: str = "auto"
    #: resamples of the target, and how many leading sources are re-scored
    resamples: int = 100
    stability_leading: int = 8


@dataclass(frozen=True)
class ExecutionOptions:
    """Where the scoring runs."""

    engine: Engine | str = Engine.LOCAL
    executor: Executor | None = None
    show_progress: bool | None = None


GROUPS = (TargetOptions, EmbeddingOptions, SelectionOptions, ExecutionOptions)
_OWNER = {f.name: group for group in GROUPS for f in fields(group)}


def split_options(flat: dict[str, Any], given: dict[type, Any]
                  ) -> tuple[TargetOptions, EmbeddingOptions, SelectionOptions, ExecutionOptions]:
    """The four groups: ``given`` (group class -> instance or None) updated with the flat
    keyword arguments; an unknown name is an error that lists the valid ones."""
    unknown = sorted(set(flat) - set(_OWNER))
    if unknown:
        raise InvalidOptionError(f"rank_sources() got unknown option(s) {', '.join(unknown)}; "
                                 f"valid: {', '.join(sorted(_OWNER))}")
    out = []
    for group in GROUPS:
        base = given.get(group) or group()
        if not isinstance(base, group):
            raise InvalidOptionError(f"expected a {group.__name__}, got {type(base).__name__}")
        mine = {k: v for k, v in flat.items() if _OWNER[k] is group}
        out.append(replace(base, **mine) if mine else base)
    return tuple(out)  # type: ignore[return-value]
