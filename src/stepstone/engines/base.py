"""Executors: run independent jobs and hand back their results as they finish.

A job is a plain function call (``Job(key, fn, args, kwargs)``). The local executor runs one job
at a time in this process, in order; the Ray executor (engines/ray_engine.py) runs many at once
on a cluster. Both are driven the same way, so the caller's code - and its results - do not
depend on the engine.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from .._options import Option

logger = logging.getLogger(__name__)


class Engine(Option):
    """Where build and rank jobs run."""

    LOCAL = "local"  # in this process, one after the other (the default)
    RAY = "ray"  # tasks on a Ray cluster (``pip install 'stepstone[ray]'``)


@dataclass
class Job:
    """One unit of work. ``gpu`` asks for an accelerator where the engine has one; ``fresh``
    asks for a new worker process (so the job's GPU memory is released when it ends)."""

    key: str
    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    gpu: bool = False
    fresh: bool = False


@dataclass
class Outcome:
    """A finished job: its result, or the exception it raised (never both)."""

    job: Job
    result: Any = None
    error: BaseException | None = None


class Executor(Protocol):
    """Runs jobs pulled lazily from ``jobs`` and yields each outcome when the job is done."""

    def run(self, jobs: Iterable[Job]) -> Iterator[Outcome]: ...


class LocalExecutor:
    """Run each job in this process when it is pulled, in order."""

    name = Engine.LOCAL

    def run(self, jobs: Iterable[Job]) -> Iterator[Outcome]:
        for job in jobs:
            try:
                yield Outcome(job, result=job.fn(*job.args, **job.kwargs))
            except Exception as err:  # the caller decides what a failed job means
                yield Outcome(job, error=err)


def get_executor(engine: Engine | str = Engine.LOCAL, **options: Any) -> Executor:
    """The executor for ``engine``; options go to the Ray executor (address, retries...)."""
    engine = Engine.parse(engine)
    if engine is Engine.LOCAL:
        if any(v is not None for v in options.values()):
            logger.debug("local engine ignores %s", sorted(options))
        return LocalExecutor()
    from .ray_engine import RayExecutor

    return RayExecutor(**{k: v for k, v in options.items() if v is not None})
