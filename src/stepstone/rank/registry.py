"""The ranking methods' records: one :class:`MethodInfo` per method, registered explicitly.

Everything that lists, filters, shards, caches or documents methods reads these records (the
CLI's ``--method`` help, the bench's tuned-method list, the score cache, the sharded engine,
the README's method table and the tests' parametrisations), so a new method is its function
plus one ``register(MethodInfo(...))``; a new feature score is its pure function plus its
``ScoreInfo`` in :mod:`stepstone.scores.registry` (its ``esm-`` method is derived from it).

How a method is computed decides how it is sharded (:mod:`stepstone.rank.sharded`):

- ``func`` alone: every source's score depends on that source only; shards merge.
- ``func`` + ``combine``: ``func`` gives per-source parts (:class:`SourceParts`), which the
  driver gathers from every shard and pools (ETran and NCTI normalise terms over the pool).
- ``compose``: built from other methods run through a runner (fusions, transfer-graph), each
  of which is sharded by its own record.
- ``whole=True``: the pool is needed at once and has no per-source parts; run on the driver.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from .._options import Option, did_you_mean
from ..data.task import TaskType
from ..errors import InvalidOptionError

if TYPE_CHECKING:
    from .context import MethodScores, RankContext, SourceParts

#: ``run(method name, context) -> MethodScores``: how a composed method runs its components
Runner = Callable[[str, "RankContext"], "MethodScores"]


class Need(Option):
    """What a method reads beyond the target's base embeddings."""

    ESMS = "esms"
    CONFIG = "esm config"  # the catalog's metadata of each source (its size, say)
    SOURCE_STATS = "source stats"  # source_stats.safetensors: mean embedding, token set
    DOMAIN_STATS = "domain stats"  # the Gaussian fits of `stepstone hub add-domain-stats`
    SOURCE_DATA = "source data"  # the source datasets themselves
    TUNED_MODELS = "tuned models"  # kept fine-tuned source models (--models)
    BASE_MODEL = "base model"  # the base model itself (tokenizer or weights), not just features
    TRANSFERS = "measured transfers"  # the advice model's ground-truth table


class PoolUse(Option):
    """Whether a source's score depends on the other sources being ranked."""

    NONE = "per source"
    NORMALISED = "pool-normalised"  # terms min-max scaled over the pool
    FUSED = "pool-fused"  # ranks or z-scores combined over the pool


class Reference(Option):
    """What the reference row ("no intermediate step") is for this method."""

    NONE = "none"
    IDENTITY_MAP = "identity map"
    BASE_MODEL = "base model"
    PREDICTED_GAIN = "predicted gain 0"  # a method that predicts gains: skipping gains nothing


class Execution(Enum):
    """How the score is computed (derived from the record; decides the sharding)."""

    PER_SOURCE = "per source, shards merged"
    POOLED_PARTS = "per-source parts pooled on the driver"
    COMPOSED = "from its component methods"
    WHOLE = "the whole pool on the driver"


BOTH = frozenset(TaskType)
CLASSIFICATION = frozenset({TaskType.CLASSIFICATION})


@dataclass(frozen=True)
class MethodInfo:
    """A ranking method: its function and everything known about it."""

    name: str
    summary: str
    #: ``func(ctx) -> MethodScores``, or per-source ``SourceParts`` when ``combine`` is given
    func: Callable[[RankContext], Any] | None = None
    needs: frozenset[Need] = frozenset()
    pool: PoolUse = PoolUse.NONE
    targets: frozenset[TaskType] = BOTH
    reference: Reference = Reference.NONE
    #: scores with the target's labels (a label-free method takes a class of one example)
    uses_labels: bool = True
    #: pools the gathered per-source parts into scores (pool-normalised methods)
    combine: Callable[[SourceParts], MethodScores] | None = None
    #: ``compose(ctx, run) -> MethodScores`` for a method built from others (``components``)
    compose: Callable[[RankContext, Runner], MethodScores] | None = None
    components: tuple[str, ...] = ()
    #: needs the pool at once and has no per-source parts: never sharded
    whole: bool = False
    #: for a method whose scores are predicted gains: ``own_advice(ctx, sources) -> (sources
    #: with their gain columns, recommendation or None, status)``, used instead of the hub's
    #: advice model
    own_advice: Callable[..., Any] | None = None
    #: ``unavailable(hub, model_name) -> reason or None``: why ``hub`` cannot serve this method
    #: with base model ``model_name`` (None: the hub's own), e.g. a fitted file it needs is
    #: missing or made for another hub; asked before the method is chosen as the default
    unavailable: Callable[[Any, str | None], str | None] | None = None

    def __post_init__(self) -> None:
        if (self.func is None) == (self.compose is None):
            raise ValueError(f"method {self.name}: give exactly one of func and compose")
        if self.pool is not PoolUse.NONE and self.execution is Execution.PER_SOURCE:
            raise ValueError(f"method {self.name} depends on the pool ({self.pool.value}): "
                             "give combine, compose or whole=True, or sharding breaks it")

    @property
    def execution(self) -> Execution:
        if self.compose is not None:
            return Execution.COMPOSED
        if self.whole:
            return Execution.WHOLE
        return Execution.POOLED_PARTS if self.combine is not None else Execution.PER_SOURCE

    def run(self, ctx: RankContext, run: Runner | None = None) -> MethodScores:
        """Score ``ctx.entries`` in this process (components through ``run``)."""
        if self.compose is not None:
            return self.compose(ctx, run or run_local)
        result = self.func(ctx)
        return self.combine(result) if self.combine is not None else result

    __call__ = run  # a record is used where a method function was

    def check_target(self, task_type: TaskType) -> None:
        """Refuse a target type the method cannot score, before anything is computed."""
        if task_type not in self.targets:
            from ..scores._inputs import classification_only

            raise classification_only(self.name)


@dataclass(frozen=True)
class MethodFamily:
    """Parametrised methods, written ``prefix:argument`` (``fusion:esm-logme,textemb``)."""

    prefix: str
    summary: str
    example: str
    factory: Callable[[str], MethodInfo] = field(repr=False)
    pool: PoolUse = PoolUse.FUSED


METHODS: dict[str, MethodInfo] = {}
PREFIXED: dict[str, MethodFamily] = {}


def register(info: MethodInfo | str) -> Any:
    """Make a method available as ``rank_sources(method=name)`` / ``--method name``.

    ``register(MethodInfo(...))`` is the registration; ``@register("name")`` on a bare
    function still works (a per-source method with no declared needs)."""
    if isinstance(info, str):
        def decorate(func: Callable) -> Callable:
            register(MethodInfo(info, (func.__doc__ or "").strip().split("\n")[0], func))
            return func
        return decorate
    METHODS[info.name] = info
    return info


def register_prefix(family: MethodFamily | str, summary: str = "", example: str = "") -> Any:
    """Make ``prefix:argument`` available; ``register_prefix(MethodFamily(...))``, or as a
    decorator of ``factory(argument) -> MethodInfo`` with the prefix."""
    if isinstance(family, str):
        def decorate(factory: Callable[[str], MethodInfo]) -> Callable:
            register_prefix(MethodFamily(family, summary or (factory.__doc__ or "").strip(),
                                         example or f"{family}:...", factory,
                                         PoolUse.NONE))
            return factory
        return decorate
    PREFIXED[family.prefix] = family
    return family


def method_infos() -> list[MethodInfo]:
    """Every registered (plain) method, sorted by name."""
    load_builtin_methods()
    return [METHODS[name] for name in sorted(METHODS)]


def families() -> list[MethodFamily]:
    load_builtin_methods()
    return [PREFIXED[p] for p in sorted(PREFIXED)]


def available_methods() -> list[str]:
    """Every method name, plus the prefixes as ``prefix:...``."""
    return [i.name for i in method_infos()] + [f"{f.prefix}:..." for f in families()]


def get_method(name: str) -> MethodInfo:
    """The record of ``name`` (``prefix:argument`` builds one); an unknown name fails with
    the valid names and the closest one."""
    load_builtin_methods()
    key = name.strip().lower()
    prefix, colon, argument = key.partition(":")
    if colon and prefix in PREFIXED:
        return PREFIXED[prefix].factory(argument)
    if key not in METHODS:
        valid = available_methods()
        raise InvalidOptionError(f"unknown ranking method {name!r}; choose one of "
                                 f"{', '.join(valid)}." + did_you_mean(key, valid))
    return METHODS[key]


#: What ``rank_sources`` ranks by when no method is named, in order of preference: the first
#: one the hub can serve (:func:`default_method`); the last must need nothing but ESMs.
#: ESM-LogME unless the large grid's rule fixed beforehand (README, "The large grid") makes the
#: learned selector the default.
DEFAULT_METHODS: tuple[str, ...] = ("esm-logme",)


def default_method(hub: Any, model_name: str | None = None, *,
                   preference: tuple[str, ...] | None = None) -> tuple[str, list[str]]:
    """The first method of ``preference`` (default :data:`DEFAULT_METHODS`) that ``hub`` can
    serve with base model ``model_name`` (None: the hub's own), and one line per method passed
    over saying why."""
    passed_over = []
    for name in preference or DEFAULT_METHODS:
        info = get_method(name)
        why = info.unavailable(hub, model_name) if info.unavailable is not None else None
        if why is None:
            return info.name, passed_over
        passed_over.append(f"ranked without {info.name} (the default where the hub serves it): "
                           f"{why}")
    raise InvalidOptionError("no default ranking method can serve this hub: "
                             + "; ".join(passed_over) + "; name one with method=/--method")


def run_local(name: str, ctx: RankContext) -> MethodScores:
    """Run a method in this process (the runner of composed methods by default)."""
    return get_method(name).run(ctx)


def tuned_methods() -> tuple[str, ...]:
    """Per-source methods on the kept tuned models (what the bench stores while it trains),
    in registration order."""
    load_builtin_methods()
    return tuple(i.name for i in METHODS.values()
                 if Need.TUNED_MODELS in i.needs and i.execution is Execution.PER_SOURCE)


def load_builtin_methods() -> None:
    """Importing the method modules registers them (they import this module, so not at the
    top)."""
    from .methods import (baselines, domain_stats, esm_logme, esm_scores,  # noqa: F401
                          fusion, learned, taskemb, transfer_graph, tuned)
