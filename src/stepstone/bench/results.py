"""The ground-truth results file: one CSV row per finished cell, appended as cells finish.

``transfer.csv`` grows by one fsynced line per cell, so an interrupted run loses at most the cell
in progress; ``transfer.json`` holds the grid and the run's metadata. A partially written last
line (a crash mid-append) is ignored when the file is read back.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from .._io import write_json
from ..errors import BenchmarkError
from ..hub.locks import esm_lock

logger = logging.getLogger(__name__)

BASELINE = "(no transfer)"


@dataclass(frozen=True)
class Cell:
    """One ground-truth measurement: target fine-tuned after ``source`` (or from the base model
    when ``source`` is BASELINE), with one seed."""

    target: str
    source: str
    seed: int
    score: float
    metric: str  # accuracy | pearson_spearman
    train_examples: int
    eval_examples: int
    seconds: float
    device: str
    finished: str  # ISO time

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.target, self.source, self.seed)


_COLUMNS = [f.name for f in fields(Cell)]
_TYPES = {f.name: f.type for f in fields(Cell)}


class ResultsFile:
    """``<folder>/transfer.csv`` + ``<folder>/transfer.json``."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        self.csv = self.folder / "transfer.csv"
        self.meta = self.folder / "transfer.json"

    def cells(self) -> list[Cell]:
        if not self.csv.is_file():
            return []
        out = []
        for row in read_csv_rows(self.csv):
            try:
                out.append(Cell(**{k: _convert(k, row[k]) for k in _COLUMNS}))
            except (KeyError, TypeError, ValueError) as err:
                raise BenchmarkError(f"{self.csv}: malformed row {row}: {err}") from err
        return out

    def done(self) -> set[tuple[str, str, int]]:
        return {c.key for c in self.cells()}

    def append(self, cell: Cell) -> None:
        """Append one cell (fsynced), under a lock shared by every worker of the folder."""
        self.folder.mkdir(parents=True, exist_ok=True)
        append_csv_rows(self.csv, _COLUMNS, [asdict(cell)])

    def write_meta(self, meta: dict[str, Any]) -> None:
        write_json(self.meta, meta)

    def read_meta(self) -> dict[str, Any]:
        return json.loads(self.meta.read_text()) if self.meta.is_file() else {}

    def to_pandas(self):
        import pandas as pd

        return pd.DataFrame([asdict(c) for c in self.cells()], columns=_COLUMNS)


def read_csv_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV file appended by :func:`append_csv_rows`; a partially written last
    line (a crash mid-append) is ignored."""
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        logger.warning("%s: ignoring an incomplete last line (interrupted write)", path)
        lines = lines[:-1]
    return list(csv.DictReader(io.StringIO("".join(lines))))


def append_csv_rows(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> None:
    """Append rows (header first in a new file), fsynced, under a lock shared by every process
    writing to ``path``; a half-written last line left by a crash is dropped first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with esm_lock(path.parent, path.name):
        if path.is_file():
            data = path.read_bytes()
            if data and not data.endswith(b"\n"):
                path.write_bytes(data[: data.rfind(b"\n") + 1])
        new = not path.is_file() or path.stat().st_size == 0
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        if new:
            writer.writeheader()
        writer.writerows(rows)
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(buffer.getvalue())
            handle.flush()
            os.fsync(handle.fileno())


#: Grid settings that must be equal for one grid to take over another's cells.
_COMPARABLE = ("target_examples", "eval_examples", "sample_seed", "source_examples",
               "source_finetune", "target_finetune")


def import_reused_cells(grid, results: ResultsFile) -> int:
    """Copy the finished cells of the grids named in ``grid.reuses`` (results folders beside
    ``results``) that ``grid`` also has, when their settings match; returns how many.

    The copies are the same measurements (same target sample, source model settings, seed), so
    the larger grid does not run them again; ``transfer.json`` records where they came from.
    """
    from .grids import GRIDS

    count = 0
    wanted = {(t, s or BASELINE, seed) for t, s, seed in grid.cells()}
    for name in grid.reuses:
        other = GRIDS.get(name)
        mine, theirs = grid.to_dict(), other.to_dict() if other else {}
        if other is None or any(mine[k] != theirs[k] for k in _COMPARABLE):
            logger.warning("grid %s cannot reuse grid %s: unknown or other settings", grid.name,
                           name)
            continue
        new = _append_new(results, ResultsFile(results.folder.parent / name), wanted,
                          "imported")
        if new:
            logger.info("took over %d finished cells of grid %s", len(new), name)
        count += len(new)
    return count


def _append_new(results: ResultsFile, source: ResultsFile, wanted: set[tuple[str, str, int]],
                record: str) -> list[Cell]:
    """Append ``source``'s cells that are ``wanted`` and not in ``results`` yet; note where
    they came from under ``record`` in the results' metadata."""
    done = results.done()
    new = [c for c in source.cells() if c.key in wanted and c.key not in done]
    for cell in new:
        results.append(cell)
    if new:
        meta = results.read_meta()
        meta.setdefault(record, []).append({"from": str(source.csv), "cells": len(new),
                                            "devices": sorted({c.device for c in new})})
        results.write_meta(meta)
    return new


def merge_cells(grid, results: ResultsFile, other: str | os.PathLike) -> int:
    """Append the cells of the results folder ``other`` (another machine's run on a copy of
    ``results``, e.g. a lent GPU's) that are cells of ``grid`` and not yet in ``results``;
    returns how many. Rows keep their device. Safe beside running workers: they re-read the
    results after taking a cell, so a merged cell is not run again."""
    source = ResultsFile(other)
    if not source.csv.is_file():
        raise BenchmarkError(f"no results to merge: {source.csv} does not exist")
    wanted = {(t, s or BASELINE, seed) for t, s, seed in grid.cells()}
    new = _append_new(results, source, wanted, "merged")
    logger.info("merged %d cells from %s", len(new), source.csv)
    return len(new)


def _convert(name: str, value: str) -> Any:
    kind = _TYPES[name]
    if kind in ("int", int):
        return int(value)
    if kind in ("float", float):
        return float(value)
    return value
