"""Pick and drive an ESM-LogME implementation for a stream of ESM blocks.

Backends (all equal to the naive evidence to round-off):

- ``lapack``: CPU, one tridiagonal reduction per ESM (``fast``) on worker threads
  (every BLAS/LAPACK call there releases the GIL; BLAS is kept to one thread per worker so they
  do not fight). The workers also run each block's O(D) fixed point, as one task once the
  block's reductions are in, while the others reduce the next block; the calling thread only
  reads blocks ahead. A block's scores do not depend on the number of workers: it is always
  reduced in the same parts and its fixed point always runs over the whole block.
- ``torch``: batched float64 eigen-solves with torch, for CUDA (``torch_route``).
- ``reference``: numpy batched ``eigh`` (``esm_logme``), the simple path the others are checked
  against.

``auto`` means ``torch`` when the device is a CUDA device and ``lapack`` otherwise.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from threading import Lock
from typing import Any, TypeVar

import numpy as np

from ..._options import Option
from ...errors import InvalidOptionError
from ._blas import single_threaded_blas
from .fast import Tridiagonal, tridiagonal_esm_logme, tridiagonalize
from .reference import TargetStats, esm_logme

logger = logging.getLogger(__name__)

Tag = TypeVar("Tag")

#: ESMs per worker task: small enough to spread a block over the workers evenly
TASK_SIZE = 16
#: default cap on worker threads
MAX_WORKERS = 8
#: blocks read beyond the one being waited for, so the workers never run dry while the calling
#: thread reads (each is ~75 MB as float16 at D = 384)
READ_AHEAD = 2


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
            from .torch_route import TorchESMLogME

            self._torch = TorchESMLogME(stats, device=self.device)
        logger.debug("ESM-LogME backend %s (%d workers)", self.backend.value, self.workers)

    def __call__(self, maps: np.ndarray) -> np.ndarray:
        """Scores of one block. Shapes: maps (B, D+1, D') -> (B,)."""
        return next(self.score_blocks([(None, maps)]))[1]

    def score_blocks(self, blocks: Iterable[tuple[Tag, np.ndarray]]
                     ) -> Iterator[tuple[Tag, np.ndarray]]:
        """Score ``(tag, maps)`` blocks in order, yielding ``(tag, scores)``; at most
        ``READ_AHEAD + 1`` blocks are held at a time."""
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
                yield tag, _block_scores(self.stats, [tridiagonalize(self.stats, part)
                                                      for part in _tasks(maps)], maps)

    def _threaded(self, blocks: Iterable[tuple[Tag, np.ndarray]]
                  ) -> Iterator[tuple[Tag, np.ndarray]]:
        """Workers reduce a block's parts and, when the last part is in, one of them runs the
        block's fixed point, while the others reduce the next block: this thread only reads
        blocks (at most ``READ_AHEAD`` ahead of the one it waits for) and hands out work."""
        pool = ThreadPoolExecutor(self.workers, thread_name_prefix="esm-logme")
        pending: deque[tuple[Tag, Future[np.ndarray]]] = deque()
        try:
            with single_threaded_blas():
                for tag, maps in blocks:
                    pending.append((tag, _BlockJob(self.stats, maps, pool).scores))
                    if len(pending) > READ_AHEAD:
                        done_tag, scores = pending.popleft()
                        yield done_tag, scores.result()
                while pending:
                    done_tag, scores = pending.popleft()
                    yield done_tag, scores.result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


class _BlockJob:
    """One block on the pool: its parts are reduced as separate tasks, and the completion of
    the last one queues the block's fixed point as one more task (no thread ever waits on
    another's work). ``scores`` resolves to the block's scores (or its first error)."""

    def __init__(self, stats: TargetStats, maps: np.ndarray, pool: ThreadPoolExecutor) -> None:
        self.stats, self.maps, self.pool = stats, maps, pool
        self.scores: Future[np.ndarray] = Future()
        self._lock = Lock()
        self._parts = [pool.submit(tridiagonalize, stats, part) for part in _tasks(maps)]
        self._left = len(self._parts)
        if not self._parts:
            self.scores.set_result(np.zeros(0))
        for part in self._parts:
            part.add_done_callback(self._part_done)

    def _part_done(self, part: Future[Tridiagonal]) -> None:
        with self._lock:
            self._left -= 1
            last = self._left == 0
        if part.cancelled() or part.exception() is not None:
            if not self.scores.done():  # first error wins; the caller re-raises it
                self.scores.set_exception(part.exception() if not part.cancelled()
                                          else CancelledError())
            return
        if last and not self.scores.done():
            try:
                self.pool.submit(self._fixed_point)
            except RuntimeError as err:  # the pool is shutting down: nobody waits any more
                self.scores.set_exception(err)

    def _fixed_point(self) -> None:
        try:
            self.scores.set_result(_block_scores(self.stats, [p.result() for p in self._parts],
                                                 self.maps))
        except BaseException as err:  # noqa: BLE001 - handed to the waiting caller
            self.scores.set_exception(err)


def _tasks(maps: np.ndarray) -> list[np.ndarray]:
    """A block in TASK_SIZE parts. Serial and threaded runs reduce the same parts, so a score
    does not depend on how many workers computed it (nor on the engine that sharded the hub)."""
    return [maps[i:i + TASK_SIZE] for i in range(0, len(maps), TASK_SIZE)]


def _block_scores(stats: TargetStats, parts: list[Tridiagonal], maps: np.ndarray) -> np.ndarray:
    """The fixed point of a whole block at once (its cost per step is shared by all lanes)."""
    return tridiagonal_esm_logme(stats, Tridiagonal.concat(parts), maps)


def _resolve(backend: ScoreBackend, device: Any) -> tuple[ScoreBackend, Any]:
    """The backend and torch device to use; ``device=None`` means CUDA when available."""
    if device is None and backend in (ScoreBackend.AUTO, ScoreBackend.TORCH):
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    if backend is ScoreBackend.AUTO:
        backend = ScoreBackend.TORCH if str(device).startswith("cuda") else ScoreBackend.LAPACK
    return backend, device
