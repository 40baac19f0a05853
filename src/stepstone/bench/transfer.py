"""Ground truth: fine-tune on a source, then on the target; compare with no intermediate step.

Each cell of a grid (target x source-or-baseline x seed) is one target fine-tuning from either
the base model (baseline) or a source's tuned encoder with a fresh head, evaluated on held-out
target examples. Cells are appended to the results file as they finish, so a run can be stopped
and restarted at any time without redoing finished cells.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from .. import __version__
from .._env import DEFAULT_MODEL, cpu_model, default_hub_path
from .._progress import progress
from ..data.loaders import load_task, task_name
from ..data.task import TaskData
from ..encode.models import auto_device
from ..errors import ModelLoadError, StepstoneError
from ..finetune.model import TunedModel
from ..finetune.train import fine_tune, predict
from ..build.source_esm import BuildConfig, split_source, tuned_source_model
from ..hub.hub import Hub, slugify
from .grids import Grid
from .results import BASELINE, Cell, ResultsFile, import_reused_cells
from .tuned_scores import TUNED_METHODS, store_tuned_scores
from .workers import WorkerSettings, pending_cells, run_workers, source_folder, work

logger = logging.getLogger(__name__)


def transfer_metric(task: TaskData, predictions: np.ndarray) -> tuple[float, str]:
    """Accuracy for classification; mean of Pearson and Spearman for regression (the paper's).

    A constant prediction has no correlation with the labels: it scores 0 (not NaN).
    """
    if not task.is_regression:
        return float(np.mean(predictions == task.labels)), "accuracy"
    if np.ptp(predictions) == 0:
        logger.warning("%s: constant predictions, correlation set to 0", task.name)
        return 0.0, "pearson_spearman"
    pearson = stats.pearsonr(predictions, task.labels).statistic
    spearman = stats.spearmanr(predictions, task.labels).statistic
    return float((pearson + spearman) / 2), "pearson_spearman"


def target_samples(target: str, grid: Grid) -> tuple[TaskData, TaskData]:
    """(training sample, evaluation sample) of a target, disjoint and seeded.

    The evaluation sample comes from the larger of the target's validation and test splits when
    it has one, otherwise from the training split minus the training sample.
    """
    full = load_task(target, split="train")
    train = full.sample(grid.target_examples, seed=grid.sample_seed)
    has_splits = not Path(full.origin.location).is_file()  # a single file has no other split
    held_splits = []
    for split in ("validation", "test") if has_splits else ():
        try:
            held_splits.append(load_task(target, split=split))
        except StepstoneError:
            continue
    if held_splits:  # the larger evaluation split: less noise in every cell
        held = max(held_splits, key=len)
        return train, held.sample(grid.eval_examples, seed=grid.sample_seed)
    chosen = set(train.texts)
    rest = [i for i, t in enumerate(full.texts) if t not in chosen]
    rest_task = full.subset(rest)
    if len(rest_task) == 0:
        raise StepstoneError(f"target {target}: no examples left for evaluation")
    return train, rest_task.sample(grid.eval_examples, seed=grid.sample_seed)


@dataclass
class TransferRun:
    """What a call of :func:`run_transfer` did."""

    finished: list[Cell] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # "target|source|seed" -> reason
    remaining: int = 0
    imported: int = 0  # cells taken over from the grids in ``Grid.reuses``


def run_transfer(grid: Grid, *, results_dir: str | os.PathLike,
                 models_dir: str | os.PathLike, model_name: str = DEFAULT_MODEL,
                 device: str | None = None, only_available: bool = False,
                 max_cells: int | None = None, workers: int = 1, threads: int | None = None,
                 tuned_methods: tuple[str, ...] = TUNED_METHODS,
                 hub: str | os.PathLike | None = None, show_progress: bool | None = None,
                 from_end: bool = False) -> TransferRun:
    """Run every unfinished cell of ``grid``, appending each result to ``results_dir``.

    Source models are read from ``models_dir/<source id>`` (where ``stepstone build
    --keep-models`` leaves them) or fine-tuned there once with the grid's source settings; with
    ``only_available`` cells whose source model is not there yet are left for a later run.
    ``workers > 1`` runs that many processes (``threads`` torch threads each, default 1) over
    disjoint cells (bench/workers.py); ``max_cells`` is then shared out between them. Whenever
    a source model is loaded, the scores of ``tuned_methods`` on it are stored for every
    target (bench/tuned_scores.py), so methods on tuned models can be evaluated later without
    the models (``hub`` names the sources: default, the bundled hub). ``from_end`` takes the
    cells in reverse order (a second machine on a copy of the results, see ``bench merge``).
    """
    results = ResultsFile(results_dir)
    imported = import_reused_cells(grid, results)
    _write_meta(results, grid, model_name=model_name, models_dir=models_dir, device=device,
                workers=workers)
    before = results.done()
    todo = pending_cells(grid, results)
    share = None if max_cells is None else -(-max_cells // max(workers, 1))
    settings = WorkerSettings(grid=grid, results_dir=str(results_dir),
                              models_dir=str(models_dir), model_name=model_name, device=device,
                              only_available=only_available, max_cells=share, threads=threads,
                              tuned_methods=tuple(tuned_methods),
                              hub=str(hub) if hub is not None else None,
                              log_level=logging.getLogger("stepstone").getEffectiveLevel(),
                              from_end=from_end)
    bar = progress(total=len(todo), desc=f"Transfer grid {grid.name}", unit="cell",
                   show=show_progress)
    with bar:
        if workers <= 1:
            serve_cells(settings, on_cell=lambda cell: _advance(bar, cell))
        else:
            start = len(set(grid.cells_done(results.done())))
            run_workers(settings, workers, on_progress=lambda n: _catch_up(bar, n - start))
    finished = [c for c in results.cells() if c.key not in before]
    left = pending_cells(grid, results)
    skipped = {f"{t}|{s}|{seed}": "source model not available yet" for t, s, seed in left
               if only_available and s is not None
               and not TunedModel.is_saved(source_folder(models_dir, s))}
    return TransferRun(finished=finished, skipped=skipped, remaining=len(left),
                       imported=imported)


def _catch_up(bar, finished: int) -> None:
    if finished > bar.n:  # redraw only when cells finished (a log file gets one line each)
        bar.update(finished - bar.n)


def _advance(bar, cell: Cell) -> None:
    bar.update(1)
    bar.set_postfix(last=f"{cell.score:.3f}", refresh=False)


def serve_cells(settings: WorkerSettings, *,
                on_cell: Callable[[Cell], None] | None = None) -> int:
    """One worker's share of a grid (this process): cells until none is left to take."""
    grid = settings.grid
    results = ResultsFile(settings.results_dir)
    targets: dict[str, tuple[TaskData, TaskData]] = {}

    def run_cell(key, source_model: TunedModel | None) -> None:
        target, source, seed = key
        if target not in targets:
            targets[target] = target_samples(target, grid)
        cell = _run_cell(targets[target], source_model, target=target, source=source, seed=seed,
                         grid=grid, model_name=settings.model_name, device=settings.device)
        results.append(cell)
        if on_cell is not None:
            on_cell(cell)

    def get_model(source: str) -> TunedModel | None:
        return _source_model(source, grid, settings.models_dir, settings.model_name,
                             settings.device, settings.only_available)

    hub: list[Hub] = []  # opened on first use, then shared by every source of this worker

    def on_new_model(source: str, model: TunedModel) -> None:
        if not settings.tuned_methods:
            return
        if not hub:
            hub.append(Hub(settings.hub or default_hub_path()))
        store_tuned_scores(grid, source, results_dir=settings.results_dir,
                           models_dir=settings.models_dir, methods=settings.tuned_methods,
                           hub=hub[0])

    return work(settings, run_cell, get_model, on_new_model)


def _source_model(source: str, grid: Grid, models_dir: str | os.PathLike, model_name: str,
                  device: str | None, only_available: bool) -> TunedModel | None:
    folder = Path(models_dir) / slugify(task_name(source))
    if only_available and not TunedModel.is_saved(folder):
        logger.info("no kept model for %s in %s yet", source, models_dir)
        return None
    task = load_task(source, seed=grid.sample_seed)
    config = BuildConfig(model_name=model_name, num_examples=grid.source_examples,
                         seed=grid.sample_seed, finetune=grid.source_finetune, device=device)
    train, _ = split_source(task, num_examples=config.num_examples, held_out=config.held_out,
                            seed=config.seed)
    try:
        return tuned_source_model(train, config, folder, show_progress=False)[0]
    except ModelLoadError as err:
        logger.error("source %s: %s", source, err)
        return None


def _run_cell(samples: tuple[TaskData, TaskData], source_model: TunedModel | None, *,
              target: str, source: str | None, seed: int, grid: Grid, model_name: str,
              device: str | None) -> Cell:
    train, held = samples
    started = time.perf_counter()
    config = replace(grid.target_finetune, seed=seed)
    tuned = fine_tune(train, model_name=model_name, config=config, start_from=source_model,
                      device=device, show_progress=False)
    score, metric = transfer_metric(held, predict(tuned, held, device=device))
    seconds = time.perf_counter() - started
    logger.info("%s after %s (seed %d): %s %.4f in %.0f s", target, source or BASELINE, seed,
                metric, score, seconds)
    return Cell(target=target, source=source or BASELINE, seed=seed, score=score, metric=metric,
                train_examples=len(train), eval_examples=len(held), seconds=round(seconds, 2),
                device=str(auto_device(device)),
                finished=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))


def _write_meta(results: ResultsFile, grid: Grid, **run: Any) -> None:
    meta = results.read_meta()
    current = json.loads(json.dumps(grid.to_dict()))  # tuples become lists, as on disk
    if meta.get("grid") and meta["grid"] != current:
        logger.warning("%s was started with another grid definition; appending anyway",
                       results.meta)
    runs = meta.get("runs", [])
    runs.append({"started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                 "stepstone": __version__, "machine": platform.platform(),
                 "processor": platform.processor() or platform.machine(),
                 "cpu_model": cpu_model(),
                 "cpus": os.cpu_count(), **{k: str(v) for k, v in run.items()}})
    results.write_meta({"grid": grid.to_dict(), "runs": runs})
