"""Pick and drive an ESM-LogME implementation for a stream of ESM blocks.

Backends (all equal to the naive evidence to round-off):

- ``lapack``: CPU, one tridiagonal reduction per ESM (``esm_logme_fast``) on worker threads
  (LAPACK releases the GIL; BLAS is kept to one thread per worker so they do not fight), with
  the O(D) fixed point of one block overlapping the reductions of the next.
- ``torch``: batched float64 eigen-solves with torch, for CUDA (``esm_logme_torch``).
- ``reference``: numpy batched ``eigh`` (``esm_logme``), the simple path the others are checked
  against.

``auto`` means ``torch`` when the device is a CUDA device and ``lapack`` otherwise.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np

from .._options import Option
from ..errors import InvalidOptionError
from ._blas import single_threaded_blas
from .esm_logme import TargetStats, esm_logme
from .esm_logme_fast import Tridiagonal, tridiagonal_esm_logme, tridiagonalize

logger = logging.getLogger(__name__)

Tag = TypeVar("Tag")

#: ESMs per worker task: small enough to spread a block over the workers evenly
TASK_SIZE = 16
#: default cap on worker threads (one block's fixed point runs on the calling thread)
MAX_WORKERS = 8


class ScoreBackend(Option):
    AUTO = "auto"
    LAPACK = "lapack"
    TORCH = "torch"
    REFERENCE = "reference"


def default_workers() -> int:
    """Worker threads: ``STEPSTONE_WORKERS`` if set, else the CPUs this process may use (≤ 8)."""
    env = os.environ.get("STEPSTONE_WORKERS", "").strip()
    if env:
        if not env.isdigit() or int(env) < 1:
            raise InvalidOptionError(f"STEPSTONE_WORKERS must be a whole number >= 1, got {env!r}")
        return int(env)
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_WORKERS))


class ESMLogMEScorer:
    """ESM-LogME of many ESMs for one target.

    Args:
        stats: the target's statistics (:meth:`TargetStats.from_features`).
        backend: a :class:`ScoreBackend` (or its name).
        device: torch device; with ``auto``, a CUDA device selects the ``torch`` backend
            (``None``: CUDA when available).
        workers: threads for the ``lapack`` backend (default :func:`default_workers`).
    """

    def __init__(self, stats: TargetStats, *, backend: ScoreBackend | str = ScoreBackend.AUTO,
                 device: Any = None, workers: int | None = None) -> None:
        self.stats = stats
        self.backend, self.device = _resolve(ScoreBackend.parse(backend), device)
        self.workers = workers if workers is not None else default_workers()
        self._torch = None
        if self.backend is ScoreBackend.TORCH:
            from .esm_logme_torch import TorchESMLogME

            self._torch = TorchESMLogME(stats, device=self.device)
        logger.debug("ESM-LogME backend %s (%d workers)", self.backend.value, self.workers)

    def __call__(self, maps: np.ndarray) -> np.ndarray:
        """Scores of one block. Shapes: maps (B, D+1, D') -> (B,)."""
        return next(self.score_blocks([(None, maps)]))[1]

    def score_blocks(self, blocks: Iterable[tuple[Tag, np.ndarray]]
                     ) -> Iterator[tuple[Tag, np.ndarray]]:
        """Score ``(tag, maps)`` blocks in order, yielding ``(tag, scores)``; at most two
        blocks are held at a time."""
        if self.backend is ScoreBackend.TORCH:
            return ((tag, self._torch(maps)) for tag, maps in blocks)
        if self.backend is ScoreBackend.REFERENCE:
            return ((tag, esm_logme(self.stats, np.asarray(maps, dtype=np.float64)))
                    for tag, maps in blocks)
        if self.workers <= 1:
            return self._serial(blocks)
        return self._threaded(blocks)

    def _serial(self, blocks: Iterable[tuple[Tag, np.ndarray]]
                ) -> Iterator[tuple[Tag, np.ndarray]]:
        with single_threaded_blas():  # D x D LAPACK calls gain little from BLAS threads
            for tag, maps in blocks:
                yield self._finish(tag, maps, [_Done(tridiagonalize(self.stats, part))
                                               for part in _tasks(maps)])

    def _threaded(self, blocks: Iterable[tuple[Tag, np.ndarray]]
                  ) -> Iterator[tuple[Tag, np.ndarray]]:
        pool = ThreadPoolExecutor(self.workers, thread_name_prefix="esm-logme")
        pending: deque[tuple[Tag, np.ndarray, list[Future[Tridiagonal]]]] = deque()
        try:
            with single_threaded_blas():
                for tag, maps in blocks:
                    pending.append((tag, maps, [pool.submit(tridiagonalize, self.stats, part)
                                                for part in _tasks(maps)]))
                    if len(pending) > 1:  # workers hold the next block: finish the oldest
                        yield self._finish(*pending.popleft())
                while pending:
                    yield self._finish(*pending.popleft())
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _finish(self, tag: Tag, maps: np.ndarray, futures: list[Future[Tridiagonal] | _Done]
                ) -> tuple[Tag, np.ndarray]:
        tri = Tridiagonal.concat([f.result() for f in futures])
        return tag, tridiagonal_esm_logme(self.stats, tri, maps)


def _tasks(maps: np.ndarray) -> list[np.ndarray]:
    """A block in TASK_SIZE parts. Serial and threaded runs reduce the same parts, so a score
    does not depend on how many workers computed it (nor on the engine that sharded the hub)."""
    return [maps[i:i + TASK_SIZE] for i in range(0, len(maps), TASK_SIZE)]


class _Done:
    """A finished computation with a Future's ``result()``."""

    def __init__(self, value: Tridiagonal) -> None:
        self.value = value

    def result(self) -> Tridiagonal:
        return self.value


def _resolve(backend: ScoreBackend, device: Any) -> tuple[ScoreBackend, Any]:
    """The backend and torch device to use; ``device=None`` means CUDA when available."""
    if device is None and backend in (ScoreBackend.AUTO, ScoreBackend.TORCH):
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    if backend is ScoreBackend.AUTO:
        backend = ScoreBackend.TORCH if str(device).startswith("cuda") else ScoreBackend.LAPACK
    return backend, device
