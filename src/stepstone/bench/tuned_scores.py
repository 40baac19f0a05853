"""Scores of the methods on tuned source models, stored with the ground truth.

LogME, LEEP and NCE on the fine-tuned source models need those models, which are far too large
for git (~90 MB each) and are rebuilt on every fresh machine. So while a grid runs, every source
model a worker loads is also scored for every target of the grid that has it as a candidate,
and the scores go to ``<results>/tuned_scores.csv`` (one fsynced line per score, like
``transfer.csv``). ``bench evaluate`` reads them when it is not given the models, so the
committed table, and the fidelity of ESM-LogME to LogME, can be reproduced from git alone.

``source_models.jsonl`` in the same folder records every source model that scores or cells
were made with (a hash of its head and metadata, the CPU it was trained on): a model rebuilt on
another machine is not bit-identical, and the record says which cells share a model.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from pathlib import Path

from .._env import DEFAULT_MODEL, cpu_model, default_hub_path
from ..data.loaders import task_name
from ..errors import StepstoneError
from ..hub.hub import Hub, slugify
from ..hub.locks import esm_lock
from ..rank.registry import tuned_methods
from .grids import Grid
from .results import append_csv_rows, read_csv_rows

logger = logging.getLogger(__name__)

#: Methods on tuned models stored by default: the per-source ones of the registry (TaskEmb
#: fuses over the pool and costs ~10x more per pair; add it with ``--tuned-methods``).
TUNED_METHODS = tuned_methods()
_COLUMNS = ["target", "source", "method", "score", "model", "finished"]


class TunedScores:
    """``<folder>/tuned_scores.csv``: (target, source, method) -> score."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        self.csv = self.folder / "tuned_scores.csv"
        self.models = self.folder / "source_models.jsonl"

    def rows(self) -> list[dict[str, str]]:
        return read_csv_rows(self.csv)

    def table(self) -> dict[tuple[str, str], dict[str, float]]:
        """(target, method) -> {source: score}; the last stored score of a pair wins."""
        out: dict[tuple[str, str], dict[str, float]] = {}
        for row in self.rows():
            out.setdefault((row["target"], row["method"]), {})[row["source"]] = \
                float(row["score"])
        return out

    def append(self, rows: list[dict[str, object]]) -> None:
        append_csv_rows(self.csv, _COLUMNS, rows)

    def record_model(self, source: str, identity: str) -> None:
        """Note that ``source``'s model with ``identity`` was used (once per identity)."""
        with esm_lock(self.folder, "source_models.jsonl"):
            known = self.models.read_text().splitlines() if self.models.is_file() else []
            if any(json.loads(line).get("model") == identity for line in known if line.strip()):
                return
            entry = {"source": source, "model": identity, "cpu_model": cpu_model(),
                     "recorded": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
            with open(self.models, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(entry) + "\n")
                handle.flush()
                os.fsync(handle.fileno())


def store_tuned_scores(grid: Grid, source: str, *, results_dir: str | os.PathLike,
                       models_dir: str | os.PathLike, methods: tuple[str, ...] = TUNED_METHODS,
                       hub: Hub | None = None, model_name: str = DEFAULT_MODEL) -> int:
    """Score ``source``'s kept model with ``methods`` for every target that has it as a
    candidate, ranking each target's training sample as ``bench evaluate`` does; pairs already
    stored are skipped. Returns how many scores were added."""
    from ..rank.methods.tuned import model_identity
    from ..rank.rank import rank_sources

    store = TunedScores(results_dir)
    esm_id = slugify(task_name(source))
    folder = Path(models_dir) / esm_id
    identity = model_identity(folder).rsplit(":", 1)[-1]
    store.record_model(esm_id, identity)
    hub = hub if hub is not None else Hub(default_hub_path())
    if esm_id not in hub:
        logger.warning("%s is not in hub %s: its tuned-model scores are not stored", esm_id,
                       hub.root)
        return 0
    added = 0
    with esm_lock(Path(results_dir), f"tuned-{esm_id}", blocking=False) as got:
        if not got:  # another worker is scoring this source
            return 0
        stored = {(r["target"], r["method"]) for r in store.rows() if r["source"] == esm_id}
        for target in grid.targets:
            if source not in grid.candidates(target):
                continue
            name = Path(target).name
            rows = []
            for method in methods:
                if (name, method) in stored:
                    continue
                try:
                    ranking = rank_sources(target, hub=hub, method=method,
                                           models_dir=models_dir,
                                           num_examples=grid.target_examples,
                                           seed=grid.sample_seed, filters={"ids": [esm_id]},
                                           show_progress=False)
                except StepstoneError as err:  # e.g. LEEP on a regression target
                    logger.info("%s of %s on %s: %s", method, esm_id, name, err)
                    continue
                for ranked in ranking.sources:
                    rows.append({"target": name, "source": esm_id, "method": method,
                                 "score": repr(ranked.score), "model": identity,
                                 "finished": dt.datetime.now(dt.timezone.utc).isoformat(
                                     timespec="seconds")})
            if rows:
                store.append(rows)
                added += len(rows)
    logger.info("stored %d tuned-model scores of %s", added, esm_id)
    return added


def fill_tuned_scores(grid: Grid, *, results_dir: str | os.PathLike,
                      models_dir: str | os.PathLike, methods: tuple[str, ...] = TUNED_METHODS,
                      hub: Hub | None = None) -> dict[str, int]:
    """Store the scores missing for every source of ``grid`` whose model is kept in
    ``models_dir`` (a target refused when the grid ran, a method added later); sources whose
    model is not kept are left out. Returns scores added per source."""
    from ..finetune.model import TunedModel

    hub = hub if hub is not None else Hub(default_hub_path())
    added = {}
    for source in grid.sources:
        if TunedModel.is_saved(Path(models_dir) / slugify(task_name(source))):
            added[Path(source).name] = store_tuned_scores(
                grid, source, results_dir=results_dir, models_dir=models_dir, methods=methods,
                hub=hub)
    return added
