"""How far a grid's ground truth is: cells done and left per source and target, the rate of the
latest run and the time it still needs (``stepstone bench status``).

A grid runs for hours over several sessions and machines, so "how much is left, and when will it be
done?" is asked often. The rate is measured, not assumed: it comes from the finish times in
``transfer.csv`` of the latest run, the cells finished since the last run recorded in
``transfer.json`` started (a session that follows another within minutes, on another machine, is a
run of its own), within the last stretch without a pause longer than :data:`RUN_GAP` (cells taken
over from another grid, or runs of earlier days, are older and fall outside it). It includes the
time spent fine-tuning source models during that stretch, and whatever else shared the machine, so
it is rough while models are still being tuned or other jobs ran. A second figure does not depend on
the latest run: the cells left times the median measured seconds of a finished cell of their kind
(the latest stretch of such cells when it has enough, else every finished cell of the grid), in
cell-hours.

It also names the gaps in the tuned-model scores: (target, source) pairs of a source whose model has
been recorded (``source_models.jsonl``) without a single stored score, e.g. a target that was
refused when the grid ran; ``bench tuned-scores`` fills them from the kept models.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .grids import Grid
from .results import BASELINE, Cell, ResultsFile

#: A pause longer than this between two finished cells ends a run.
RUN_GAP = dt.timedelta(minutes=30)
#: The rate needs at least this many cells of the latest run.
MIN_RATE_CELLS = 5


@dataclass(frozen=True)
class GroupProgress:
    """Cells of one source (or target, or the baselines): done of total."""

    name: str
    done: int
    total: int
    #: targets whose every seed is done (sources only)
    complete_targets: int | None = None
    targets: int | None = None
    #: whether the source model is kept in the models folder (None: not looked for)
    model_kept: bool | None = None

    @property
    def left(self) -> int:
        return self.total - self.done


@dataclass(frozen=True)
class RunRate:
    """The latest run: its cells, first and last finish time, and cells per hour."""

    cells: int
    first: str
    last: str
    cells_per_hour: float
    #: whether a cell finished within RUN_GAP of the time of the status
    active: bool
    #: the machine of the run, as recorded when it started ("AMD EPYC, 2 cpus"), if known
    machine: str | None = None


@dataclass
class GridStatus:
    grid: str
    done: int
    total: int
    baselines: GroupProgress
    sources: list[GroupProgress] = field(default_factory=list)
    targets: list[GroupProgress] = field(default_factory=list)
    rate: RunRate | None = None
    #: median seconds of one finished cell (baselines, source cells), None when none finished
    cell_seconds: dict[str, float | None] = field(default_factory=dict)
    #: left cells of each kind
    left_by_kind: dict[str, int] = field(default_factory=dict)
    #: the time of the status (ISO, UTC)
    now: str = ""
    #: target -> sources with a recorded model but no stored tuned-model score for the target
    tuned_missing: dict[str, list[str]] = field(default_factory=dict)

    @property
    def left(self) -> int:
        return self.total - self.done

    @property
    def hours_left(self) -> float | None:
        """At the latest run's rate; None without a rate (or 0 when nothing is left)."""
        if not self.left:
            return 0.0
        return self.left / self.rate.cells_per_hour if self.rate else None

    @property
    def cell_hours_left(self) -> float | None:
        """The left cells times the median measured time of a finished cell of their kind
        (one worker's hours; two workers on two cores need about half). Unlike the rate it
        does not depend on what else ran beside the latest run, but each cell's own time does
        (a loaded machine runs cells slower). Source models still to tune are not included."""
        total = 0.0
        for kind, left in self.left_by_kind.items():
            if left:
                seconds = self.cell_seconds.get(kind) or self.cell_seconds.get("source")
                if seconds is None:
                    return None
                total += left * seconds
        return total / 3600

    @property
    def models_to_tune(self) -> list[str]:
        return [s.name for s in self.sources if s.model_kept is False and s.left]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(left=self.left, hours_left=self.hours_left, models_to_tune=self.models_to_tune,
                   cell_hours_left=self.cell_hours_left)
        return out

    def to_pandas(self):
        """One row per source: done, total, left, complete targets, model kept."""
        import pandas as pd

        return pd.DataFrame([{**asdict(s), "left": s.left} for s in self.sources])

    def to_text(self) -> str:
        lines = [f"grid {self.grid}: {self.done} of {self.total} cells done "
                 f"({100 * self.done / max(self.total, 1):.1f} %), {self.left} left; "
                 f"baselines {self.baselines.done}/{self.baselines.total}"]
        lines.append(self._rate_line())
        if self.left and self.cell_hours_left is not None:
            per = ", ".join(f"{kind} {sec:.0f} s" for kind, sec in self.cell_seconds.items()
                            if sec is not None)
            lines.append(f"measured work: median cell time {per}; about "
                         f"{self.cell_hours_left:.1f} cell-hours left (about "
                         f"{self.cell_hours_left / 2:.1f} h on two workers"
                         + (", plus the source models to tune)" if self.models_to_tune
                            else ")"))
        if any(s.model_kept is not None for s in self.sources):
            kept = sum(bool(s.model_kept) for s in self.sources)
            todo = self.models_to_tune
            lines.append(f"source models kept: {kept} of {len(self.sources)}"
                         + (f"; still to fine-tune for unfinished cells: {len(todo)} "
                            f"({', '.join(todo)})" if todo else ""))
        if self.tuned_missing:
            pairs = sum(len(v) for v in self.tuned_missing.values())
            lines.append(f"tuned-model scores missing for {pairs} (target, source) pairs ("
                         + ", ".join(f"{t}: {len(v)}" for t, v in self.tuned_missing.items())
                         + "): `stepstone bench tuned-scores` stores them from the kept models")
        width = max([len(g.name) for g in self.sources + self.targets] + [6])
        lines += ["", f"{'source':<{width}}  done / cells  targets complete  model"]
        for s in self.sources:
            model = {True: "kept", False: "to tune" if s.left else "-", None: ""}[s.model_kept]
            lines.append(f"{s.name:<{width}}  {s.done:>4} / {s.total:<5}  "
                         f"{s.complete_targets:>2} / {s.targets:<11}  {model}")
        lines += ["", f"{'target':<{width}}  done / cells"]
        lines += [f"{t.name:<{width}}  {t.done:>4} / {t.total}" for t in self.targets]
        return "\n".join(lines)

    def _rate_line(self) -> str:
        if not self.left:
            return "every cell is done"
        if self.rate is None:
            return (f"latest run: fewer than {MIN_RATE_CELLS} cells, no rate to estimate the "
                    "time left from")
        state = "running" if self.rate.active else \
            f"no cell finished in the last {int(RUN_GAP.total_seconds() // 60)} min"
        if self.rate.machine:
            state += f"; {self.rate.machine}"
        return (f"latest run ({state}): {self.rate.cells} cells from {self.rate.first} to "
                f"{self.rate.last}, {self.rate.cells_per_hour:.1f} cells/h; at that rate about "
                f"{self.hours_left:.1f} h left")


def grid_status(grid: Grid, results_dir: str | os.PathLike, *,
                models_dir: str | os.PathLike | None = None,
                now: dt.datetime | None = None) -> GridStatus:
    """Progress of ``grid`` in ``results_dir``; ``models_dir``: also say which source models
    are kept there (a missing model is fine-tuned by the next run before its cells)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    keys = [(t, s or BASELINE, seed) for t, s, seed in grid.cells()]
    in_grid = set(keys)
    results = ResultsFile(results_dir)
    cells = [c for c in results.cells() if c.key in in_grid]
    started, machine = latest_start(results)
    done = {c.key for c in cells}
    baselines = [k for k in keys if k[1] == BASELINE]
    return GridStatus(
        grid=grid.name, done=len(done), total=len(keys),
        baselines=GroupProgress(BASELINE, len(done & set(baselines)), len(baselines)),
        sources=[_source_progress(grid, source, done, models_dir) for source in grid.sources],
        targets=[GroupProgress(Path(t).name, sum(k in done for k in keys if k[0] == t),
                               sum(k[0] == t for k in keys)) for t in grid.targets],
        rate=latest_run_rate(cells, now=now, started=started, machine=machine),
        now=now.isoformat(timespec="seconds"),
        cell_seconds={kind: _median(_recent_seconds(cells, kind, started=started))
                      for kind in ("baseline", "source")},
        left_by_kind={kind: sum(k not in done for k in keys if _kind(k[1]) == kind)
                      for kind in ("baseline", "source")},
        tuned_missing=tuned_gaps(grid, results_dir))


def tuned_gaps(grid: Grid, results_dir: str | os.PathLike) -> dict[str, list[str]]:
    """target -> the sources whose model is recorded in ``source_models.jsonl`` but have no
    stored tuned-model score for it although it is their candidate (LogME scores every target
    type, so every such pair should have one)."""
    import json

    from ..data.loaders import task_name
    from ..hub.hub import slugify
    from .tuned_scores import TunedScores

    store = TunedScores(results_dir)
    if not store.models.is_file():
        return {}
    recorded = {json.loads(line)["source"] for line in store.models.read_text().splitlines()
                if line.strip()}
    stored = {(r["target"], r["source"]) for r in store.rows()}
    gaps = {}
    for target in grid.targets:
        name = Path(target).name
        missing = sorted(esm for esm in (slugify(task_name(s)) for s in grid.candidates(target))
                         if esm in recorded and (name, esm) not in stored)
        if missing:
            gaps[name] = missing
    return gaps


def latest_start(results: ResultsFile) -> tuple[dt.datetime | None, str | None]:
    """When the latest run recorded in the results' ``transfer.json`` started, and its machine
    ("AMD EPYC, 2 cpus"); (None, None) when no run is recorded."""
    runs = results.read_meta().get("runs") or []
    if not runs or "started" not in runs[-1]:
        return None, None
    run = runs[-1]
    machine = ", ".join(part for part in (run.get("cpu_model"), f"{run['cpus']} cpus"
                                          if run.get("cpus") else None) if part)
    return dt.datetime.fromisoformat(run["started"]), machine or None


def _recent_seconds(cells: list[Cell], kind: str, *,
                    started: dt.datetime | None = None) -> list[float]:
    """Seconds of the finished cells of ``kind``: those of the latest run when it has at least
    MIN_RATE_CELLS of them (the machine and targets at hand; cells taken over from another grid
    or run elsewhere can be much faster or slower), else all."""
    of_kind = sorted((c for c in cells if _kind(c.source) == kind), key=lambda c: c.finished)
    recent = of_kind[_run_start([dt.datetime.fromisoformat(c.finished) for c in of_kind],
                                started):]
    return [c.seconds for c in (recent if len(recent) >= MIN_RATE_CELLS else of_kind)]


def _run_start(times: list[dt.datetime], started: dt.datetime | None = None) -> int:
    """Index where the latest run starts in sorted ``times``: the last stretch without a pause
    over RUN_GAP, and not before ``started`` (the latest recorded start) when given."""
    start = max(len(times) - 1, 0)
    while start > 0 and times[start] - times[start - 1] <= RUN_GAP:
        start -= 1
    if started is not None:
        while start < len(times) and times[start] < started:
            start += 1
    return start


def _kind(source: str) -> str:
    return "baseline" if source == BASELINE else "source"


def _median(values: list[float]) -> float | None:
    values = sorted(v for v in values if v is not None and v > 0)
    if not values:
        return None
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def latest_run_rate(cells: list[Cell], *, now: dt.datetime, started: dt.datetime | None = None,
                    machine: str | None = None) -> RunRate | None:
    """Cells per hour of the latest run: the last stretch of ``cells`` without a pause over
    RUN_GAP, from ``started`` on when given (``machine``: the run's, for the text)."""
    times = sorted(dt.datetime.fromisoformat(c.finished) for c in cells)
    if not times:
        return None
    run = times[_run_start(times, started):]
    if not run:
        return None
    span = (run[-1] - run[0]).total_seconds() / 3600
    if len(run) < MIN_RATE_CELLS or span <= 0:
        return None
    # n finish times span n - 1 intervals: the first cell's own duration lies before the span
    return RunRate(cells=len(run), first=run[0].isoformat(timespec="minutes"),
                   last=run[-1].isoformat(timespec="minutes"),
                   cells_per_hour=(len(run) - 1) / span, active=now - run[-1] <= RUN_GAP,
                   machine=machine)


def _source_progress(grid: Grid, source: str, done: set[tuple[str, str, int]],
                     models_dir: str | os.PathLike | None) -> GroupProgress:
    targets = [t for t in grid.targets if source in grid.candidates(t)]
    complete = [t for t in targets if all((t, source, s) in done for s in grid.seeds)]
    count = sum((t, source, s) in done for t in targets for s in grid.seeds)
    kept = None
    if models_dir is not None:
        from ..finetune.model import TunedModel  # torch: only when the models are looked at
        from .workers import source_folder

        kept = TunedModel.is_saved(source_folder(models_dir, source))
    return GroupProgress(Path(source).name, count, len(targets) * len(grid.seeds),
                         complete_targets=len(complete), targets=len(targets), model_kept=kept)
