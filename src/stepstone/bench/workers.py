"""Several processes over one grid: each cell run once, each source model fine-tuned once.

Coordination is by file locks (``fcntl.flock``, released by the operating system when a worker
dies, even by SIGKILL), so workers need no server and any number of ``stepstone bench transfer``
processes can share a results folder:

- ``<results>/locks/<cell>.lock`` is held while a cell runs; a worker re-reads the results file
  after taking it, so a cell finished meanwhile is not run again;
- ``<models>/locks/<source>.lock`` is held while a source model is fine-tuned and saved; a
  worker that finds it taken works on cells of other sources instead, and comes back to this
  source's cells once the model is kept;
- results are appended under ``<results>/locks/transfer.csv.lock`` (see ``ResultsFile``).

Cells are taken source by source (the order of :func:`pending_cells`), preferring the source
whose model a worker already holds in memory, so a model is loaded by few workers and a run
stopped at any point leaves at most one partly measured source per worker.

A run's spawned workers end with it: SIGTERM to the run terminates them (as Ctrl-C does), and a
worker whose run died anyway (SIGKILL) stops before its next cell, instead of running on with
the code it was started with.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from ..data.loaders import task_name
from ..finetune.model import TunedModel
from ..hub.hub import slugify
from ..hub.locks import esm_lock
from .grids import Grid
from .results import BASELINE, ResultsFile

logger = logging.getLogger(__name__)

CellKey = tuple[str, str | None, int]  # (target, source or None for the baseline, seed)
#: How long a worker waits before looking again when every pending cell is blocked on a source
#: model that another worker is fine-tuning.
POLL_SECONDS = 5.0


def cell_lock_id(cell: CellKey) -> str:
    target, source, seed = cell
    return f"cell-{slugify(task_name(target))}-{slugify(task_name(source or BASELINE))}-{seed}"


def pending_cells(grid: Grid, results: ResultsFile) -> list[CellKey]:
    """The grid's unfinished cells: baselines first, then source by source."""
    done = results.done()
    todo = [c for c in grid.cells() if (c[0], c[1] or BASELINE, c[2]) not in done]
    todo.sort(key=lambda c: (c[1] is not None, c[1] or "", c[0], c[2]))
    return todo


def source_folder(models_dir: str | os.PathLike, source: str) -> Path:
    return Path(models_dir) / slugify(task_name(source))


@dataclass
class WorkerSettings:
    """What every worker of a run needs (plain data: it is sent to spawned processes)."""

    grid: Grid
    results_dir: str
    models_dir: str
    model_name: str
    device: str | None = None
    only_available: bool = False
    max_cells: int | None = None
    threads: int | None = None
    tuned_methods: tuple[str, ...] = ()
    hub: str | None = None  # the hub whose entries name the sources (default: the bundled one)
    log_level: int = logging.WARNING
    #: take cells from the end of the pending order: a second machine (a lent GPU) working on
    #: a copy of the results meets the first one's cells only when the grid is nearly done
    from_end: bool = False


#: (cell, source model or None) -> None: runs one cell and appends its result.
CellRunner = Callable[[CellKey, "TunedModel | None"], None]
#: source -> tuned model (fine-tuned and kept when missing), or None when it cannot be made.
ModelGetter = Callable[[str], "TunedModel | None"]


def work(settings: WorkerSettings, run_cell: CellRunner, get_model: ModelGetter,
         on_new_model: Callable[[str, TunedModel], None] | None = None) -> int:
    """Run pending cells until none is left that this worker can take; returns how many it ran.

    ``get_model`` is called with the source's lock held, so a model is never fine-tuned by two
    workers at once. ``on_new_model`` runs once per source model this worker loads.
    """
    results = ResultsFile(settings.results_dir)
    models_root = Path(settings.models_dir)
    for folder in (models_root, Path(settings.results_dir)):  # locks need their folder
        folder.mkdir(parents=True, exist_ok=True)
    loaded: tuple[str | None, TunedModel | None] = (None, None)
    ran, unusable = 0, set()
    while settings.max_cells is None or ran < settings.max_cells:
        if _orphaned():
            logger.warning("the run that started this worker is gone: stopping")
            break
        todo = [c for c in pending_cells(settings.grid, results) if c[1] not in unusable]
        if settings.from_end:
            todo.reverse()
        if loaded[0] is not None:  # stay with the model in memory while it has cells left
            todo.sort(key=lambda c: c[1] != loaded[0])
        if not todo:
            break
        outcome = _take_one(todo, settings, results, models_root, loaded, get_model)
        if outcome is None:  # every pending cell is running elsewhere or waits for a model
            if not _anything_to_wait_for(todo, settings, models_root):
                break
            time.sleep(POLL_SECONDS)
            continue
        kind, cell, model, stack = outcome
        with stack:
            if kind == "unusable":
                unusable.add(cell[1])
                continue
            if cell[1] is not None and cell[1] != loaded[0]:
                loaded = (cell[1], model)
                if on_new_model is not None:
                    on_new_model(cell[1], model)
            run_cell(cell, model if cell[1] is not None else None)
            ran += 1
    return ran


def _take_one(todo: list[CellKey], settings: WorkerSettings, results: ResultsFile,
              models_root: Path, loaded: tuple[str | None, TunedModel | None],
              get_model: ModelGetter):
    """Claim the first cell this worker can run now: (kind, cell, model, held locks) or None."""
    results_root = Path(settings.results_dir)
    blocked_sources: set[str] = set()
    for cell in todo:
        source = cell[1]
        if source in blocked_sources:
            continue
        stack = ExitStack()
        if not stack.enter_context(esm_lock(results_root, cell_lock_id(cell), blocking=False)):
            stack.close()
            continue
        if (cell[0], source or BASELINE, cell[2]) in results.done():  # finished meanwhile
            stack.close()
            continue
        if source is None:
            return "run", cell, None, stack
        if source == loaded[0]:
            return "run", cell, loaded[1], stack
        folder = source_folder(models_root, source)
        if not TunedModel.is_saved(folder) and settings.only_available:
            stack.close()
            blocked_sources.add(source)
            continue
        with esm_lock(models_root, slugify(task_name(source)), blocking=False) as got:
            if not got:  # another worker is fine-tuning it: do something else meanwhile
                stack.close()
                blocked_sources.add(source)
                continue
            model = get_model(source)
        if model is None:
            return "unusable", cell, None, stack
        return "run", cell, model, stack
    return None


def _anything_to_wait_for(todo: list[CellKey], settings: WorkerSettings,
                          models_root: Path) -> bool:
    """Whether some pending cell waits on a model being fine-tuned (worth waiting for), rather
    than every pending cell being run by other workers right now (nothing left for us)."""
    for source in {c[1] for c in todo if c[1] is not None}:
        if TunedModel.is_saved(source_folder(models_root, source)):
            continue
        if settings.only_available:
            continue
        with esm_lock(models_root, slugify(task_name(source)), blocking=False) as got:
            if not got:
                return True
    return False


def run_workers(settings: WorkerSettings, workers: int, *,
                on_progress: Callable[[int], None] | None = None) -> list[int]:
    """Run ``workers`` spawned processes of :func:`worker_main`; returns their exit codes.

    ``on_progress(finished)`` is called every few seconds with the number of the grid's cells
    finished so far (for one progress bar in the parent).
    """
    ctx = multiprocessing.get_context("spawn")  # no forked torch / BLAS thread state
    procs = [ctx.Process(target=worker_main, args=(settings, i), name=f"transfer-worker-{i}")
             for i in range(workers)]
    for proc in procs:
        proc.start()
    results = ResultsFile(settings.results_dir)
    # signal handlers can only be set on the main thread; a worker orphaned by a SIGTERM before
    # this line still stops at its next cell (_orphaned)
    on_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm) if on_main_thread else None
    try:
        while any(p.is_alive() for p in procs):
            if on_progress is not None:
                on_progress(len(settings.grid.cells_done(results.done())))
            for proc in procs:
                proc.join(timeout=POLL_SECONDS / len(procs))
    except BaseException:
        for proc in procs:
            proc.terminate()
        raise
    finally:
        if on_main_thread:
            signal.signal(signal.SIGTERM, previous)
    if on_progress is not None:
        on_progress(len(settings.grid.cells_done(results.done())))
    return [p.exitcode for p in procs]


def _exit_on_sigterm(signum, frame) -> None:
    """SIGTERM as an exception, so that the run terminates its workers before it ends."""
    raise SystemExit(128 + signum)


#: the pid of the run that spawned this worker (None in the run's own process)
_RUN_PID: int | None = None


def _orphaned() -> bool:
    """Whether this is a spawned worker whose run has died (it was re-parented)."""
    return _RUN_PID is not None and os.getppid() != _RUN_PID


def worker_main(settings: WorkerSettings, index: int) -> None:
    """Entry point of one spawned worker process."""
    global _RUN_PID
    _RUN_PID = os.getppid()
    logging.basicConfig(level=settings.log_level,
                        format=f"%(levelname)s [worker {index}] %(name)s: %(message)s")
    import torch

    torch.set_num_threads(settings.threads or 1)
    from .transfer import serve_cells

    count = serve_cells(settings)
    logger.info("worker %d ran %d cells", index, count)
