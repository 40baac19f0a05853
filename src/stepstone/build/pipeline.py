"""Build a hub: one job per source (build/source_esm.py), stored by this driver as jobs finish.

Resumable at two levels: a source whose ESM is already in the hub is skipped, and a kept tuned
model (``models_dir``) is reused instead of fine-tuning again. Jobs run on an engine (in this
process by default, or on Ray); only this driver writes the hub and its catalog, holding each
source's lock from before its job starts until its ESM is stored, so several builds can share
one hub.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from typing import Any

from .._progress import progress
from ..data.loaders import task_name
from ..data.task import TaskData
from ..engines import Engine, Executor, Job, Outcome, get_executor
from ..errors import StepstoneError
from ..hub.hub import Hub, slugify
from .source_esm import (MINILM_LEARNING_RATE, BuildConfig, SourceArtifacts, kept_source_model,
                         make_source_esm, source_stats, split_source, tuned_source_model)

logger = logging.getLogger(__name__)

__all__ = ["MINILM_LEARNING_RATE", "BuildConfig", "BuildReport", "SourceResult", "build_hub",
           "hub_lock", "kept_source_model", "source_stats", "split_source",
           "tuned_source_model"]


@dataclass
class SourceResult:
    """What happened to one source in a build."""

    source: str
    esm_id: str | None = None
    status: str = "pending"  # built | skipped | failed | locked
    message: str = ""
    seconds: float = 0.0
    fit: dict[str, Any] = field(default_factory=dict)
    reused_model: bool = False  # a kept tuned model was loaded instead of fine-tuning again


@dataclass
class BuildReport:
    results: list[SourceResult] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    def to_dict(self) -> dict[str, Any]:
        return {"results": [asdict(r) for r in self.results],
                **{s: self.count(s) for s in ("built", "skipped", "failed", "locked")}}


def build_hub(sources: Sequence[str | os.PathLike | TaskData], hub: Hub, *,
              config: BuildConfig = BuildConfig(), models_dir: str | os.PathLike | None = None,
              overwrite: bool = False, show_progress: bool | None = None,
              on_result: Callable[[BuildReport], None] | None = None,
              engine: Engine | str = Engine.LOCAL, executor: Executor | None = None
              ) -> BuildReport:
    """Build an ESM for every source into ``hub``; a failing source is reported, not fatal.

    ``models_dir`` keeps each tuned model in ``<models_dir>/<esm id>`` (reused on the next run and
    by ``stepstone bench transfer``; on a cluster it must be storage every worker can reach).
    ``on_result`` is called with the report so far after each source (e.g. to save it, so that
    an interrupted build still says what it finished). ``engine="ray"`` (or an ``executor``)
    runs the sources' jobs in parallel; the hub ends up the same.
    """
    executor = executor or get_executor(engine)
    driver = _Driver(hub, config=config, models_dir=models_dir, overwrite=overwrite,
                     on_result=on_result)
    bar = progress(total=len(sources), desc="Building ESMs", unit="source", show=show_progress)
    with bar, driver.locks:
        for outcome in executor.run(driver.jobs(sources, bar, show_progress)):
            driver.store(outcome)
            bar.update(1)
    return driver.report


class _Driver:
    """Decides which sources need a job, holds their locks, stores what the jobs return."""

    def __init__(self, hub: Hub, *, config: BuildConfig, models_dir: str | os.PathLike | None,
                 overwrite: bool, on_result: Callable[[BuildReport], None] | None) -> None:
        self.hub, self.config, self.overwrite, self.on_result = hub, config, overwrite, on_result
        self.models_dir = str(models_dir) if models_dir is not None else None
        self.report = BuildReport()
        self.locks = ExitStack()
        self._pending: dict[str, tuple[SourceResult, ExitStack, float]] = {}

    def jobs(self, sources: Sequence[Any], bar: Any, show_progress: bool | None
             ) -> Iterator[Job]:
        """A job per source that needs one, created (and its lock taken) when the engine asks."""
        for source in sources:
            result = self._plan(source)
            if result.status != "pending":
                bar.update(1)
                continue
            yield Job(key=result.esm_id, fn=make_source_esm,
                      args=(source, self.config, self.models_dir),
                      kwargs={"show_progress": show_progress}, gpu=True, fresh=True)

    def _plan(self, source: Any) -> SourceResult:
        label = source.name if isinstance(source, TaskData) else str(source)
        esm_id = slugify(source.name if isinstance(source, TaskData) else task_name(source))
        result = SourceResult(source=label, esm_id=esm_id)
        self.report.results.append(result)
        if esm_id in self.hub and not self.overwrite:
            return self._finish(result, "skipped", "already in the hub")
        lock = ExitStack()
        if not lock.enter_context(self.hub.lock(esm_id, blocking=False)):
            lock.close()
            return self._finish(result, "locked", "another build is working on it")
        self.hub.sync()
        if esm_id in self.hub and not self.overwrite:
            lock.close()
            return self._finish(result, "skipped", "built meanwhile by another process")
        self.locks.callback(lock.close)  # released at the end even if the build is interrupted
        self._pending[esm_id] = (result, lock, time.perf_counter())
        return result

    def store(self, outcome: Outcome) -> None:
        result, lock, started = self._pending.pop(outcome.job.key)
        result.seconds = time.perf_counter() - started
        try:
            if outcome.error is not None:
                raise outcome.error
            artifacts: SourceArtifacts = outcome.result
            esm = artifacts.esm
            self.hub.add(esm, esm_id=result.esm_id, overwrite=self.overwrite,
                         stats=artifacts.stats, dtype=self.config.weight_dtype)
            result.fit, result.reused_model = esm.config.fit, artifacts.reused_model
            self._finish(result, "built", "")
            logger.info("built %s: held-out cosine %.4f (identity %.4f)", result.esm_id,
                        esm.config.fit.get("cosine", float("nan")),
                        esm.config.fit.get("base_cosine", float("nan")))
        except StepstoneError as err:
            self._finish(result, "failed", str(err))
            logger.error("source %s failed: %s", result.source, err)
        except Exception as err:  # a bug or a crashed job must not sink the other sources
            self._finish(result, "failed", f"{type(err).__name__}: {err}")
            logger.exception("source %s failed", result.source)
        finally:
            lock.close()

    def _finish(self, result: SourceResult, status: str, message: str) -> SourceResult:
        result.status, result.message = status, message
        if self.on_result is not None:
            self.on_result(self.report)
        return result


def hub_lock(hub: Hub, esm_id: str):
    """The ESM's lock, without waiting: yields False when another build holds it."""
    return hub.lock(esm_id, blocking=False)
