"""`bench status`: cells done and left, the latest run's rate, the source models to tune."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner

from stepstone.bench import Grid, ResultsFile
from stepstone.bench.grid_status import grid_status, latest_run_rate
from stepstone.bench.results import BASELINE, Cell
from stepstone.cli import main
from stepstone.finetune.model import TUNED_META

T0 = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.timezone.utc)
# 2 targets x (baseline + 2 candidates: a target is not its own candidate) x 2 seeds = 12 cells
GRID = Grid(name="toy", targets=("alpha", "gamma"), sources=("alpha", "beta", "gamma"),
            seeds=(1, 2))


def _cell(target: str, source: str, seed: int, finished: dt.datetime) -> Cell:
    return Cell(target=target, source=source, seed=seed, score=0.5, metric="accuracy",
                train_examples=10, eval_examples=10, seconds=60.0, device="cpu",
                finished=finished.isoformat())


def _results(tmp_path, cells: list[tuple[str, str, int]], *, start: dt.datetime = T0,
             step: dt.timedelta = dt.timedelta(minutes=2)) -> ResultsFile:
    results = ResultsFile(tmp_path / "results")
    for i, (target, source, seed) in enumerate(cells):
        results.append(_cell(target, source, seed, start + i * step))
    return results


def test_counts_per_source_target_and_baseline(tmp_path):
    done = [("alpha", BASELINE, 1), ("alpha", BASELINE, 2), ("alpha", "beta", 1),
            ("alpha", "beta", 2), ("alpha", "gamma", 1), ("gamma", "beta", 2),
            ("other", "beta", 1)]  # not a cell of the grid: not counted
    results = _results(tmp_path, done)
    status = grid_status(GRID, results.folder, now=T0 + dt.timedelta(minutes=13))
    assert (status.done, status.total, status.left) == (6, 12, 6)
    assert (status.baselines.done, status.baselines.total) == (2, 4)
    sources = {s.name: s for s in status.sources}
    # beta is a candidate of both targets: complete on alpha, one seed of two on gamma
    assert (sources["beta"].done, sources["beta"].total) == (3, 4)
    assert (sources["beta"].complete_targets, sources["beta"].targets) == (1, 2)
    # alpha is only gamma's candidate, gamma only alpha's
    assert (sources["alpha"].done, sources["alpha"].total, sources["alpha"].targets) == (0, 2, 1)
    assert (sources["gamma"].done, sources["gamma"].complete_targets) == (1, 0)
    assert {t.name: (t.done, t.total) for t in status.targets} == {"alpha": (5, 6),
                                                                   "gamma": (1, 6)}
    assert all(s.model_kept is None for s in status.sources)  # no models folder given


def test_rate_is_that_of_the_latest_run_and_gives_the_time_left(tmp_path):
    old = [("alpha", BASELINE, 1), ("alpha", BASELINE, 2)]  # a run of an earlier day
    new = [("alpha", "beta", 1), ("alpha", "beta", 2), ("alpha", "gamma", 1),
           ("alpha", "gamma", 2), ("gamma", BASELINE, 1), ("gamma", BASELINE, 2)]
    results = _results(tmp_path, old, start=T0 - dt.timedelta(days=1))
    for i, key in enumerate(new):  # one cell every 6 minutes: 10 cells per hour
        results.append(_cell(*key, T0 + i * dt.timedelta(minutes=6)))
    status = grid_status(GRID, results.folder, now=T0 + dt.timedelta(minutes=40))
    rate = status.rate
    assert rate.cells == 6 and rate.active
    assert rate.cells_per_hour == pytest.approx(10.0)
    assert status.left == 4 and status.hours_left == pytest.approx(0.4)
    assert rate.first.startswith("2026-12-01T08:00") and rate.last.startswith("2026-12-01T08:30")
    # an hour after the last cell the run is no longer active; the rate stays
    later = grid_status(GRID, results.folder, now=T0 + dt.timedelta(hours=2))
    assert not later.rate.active and later.rate.cells_per_hour == pytest.approx(10.0)
    assert "no cell finished in the last 30 min" in later.to_text()


def test_no_rate_from_too_few_cells_and_none_needed_when_done(tmp_path):
    cells = [_cell("alpha", BASELINE, 1, T0), _cell("alpha", BASELINE, 2, T0)]
    assert latest_run_rate(cells, now=T0) is None  # fewer than 5, and no time between
    assert latest_run_rate([], now=T0) is None
    results = _results(tmp_path, [(t, s or BASELINE, seed) for t, s, seed in GRID.cells()])
    status = grid_status(GRID, results.folder, now=T0)
    assert status.left == 0 and status.hours_left == 0.0
    assert "every cell is done" in status.to_text()


def test_models_kept_and_to_tune(tmp_path):
    results = _results(tmp_path, [("gamma", "alpha", 1), ("gamma", "alpha", 2)])
    models = tmp_path / "models"
    (models / "beta").mkdir(parents=True)
    (models / "beta" / TUNED_META).write_text("{}")
    (models / "gamma").mkdir()  # a folder without a saved model (an interrupted save)
    status = grid_status(GRID, results.folder, models_dir=models, now=T0)
    kept = {s.name: s.model_kept for s in status.sources}
    assert kept == {"alpha": False, "beta": True, "gamma": False}
    # alpha's cells are all done, so its missing model needs no tuning
    assert status.models_to_tune == ["gamma"]
    assert "still to fine-tune for unfinished cells: 1 (gamma)" in status.to_text()


def test_cli_text_and_json(tmp_path):
    results = _results(tmp_path, [("alpha", BASELINE, 1), ("alpha", "beta", 1)])
    grid_file = tmp_path / "grid.json"
    grid_file.write_text(json.dumps(GRID.to_dict()))
    runner = CliRunner()
    text = runner.invoke(main, ["bench", "status", "--grid", str(grid_file), "--results",
                                str(results.folder), "--models", str(tmp_path / "none")])
    assert text.exit_code == 0, text.output
    assert text.output.startswith("grid toy: 2 of 12 cells done (16.7 %), 10 left")
    out = runner.invoke(main, ["bench", "status", "--grid", str(grid_file), "--results",
                               str(results.folder), "--format", "json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert (data["done"], data["left"], data["rate"]) == (2, 10, None)
    assert [s["name"] for s in data["sources"]] == ["alpha", "beta", "gamma"]


def test_cell_hours_left_from_the_measured_cell_times(tmp_path):
    results = ResultsFile(tmp_path / "results")
    timed = [(("alpha", BASELINE, 1), 30.0), (("alpha", BASELINE, 2), 50.0),
             (("alpha", "beta", 1), 100.0), (("alpha", "beta", 2), 200.0),
             (("alpha", "gamma", 1), 120.0)]
    for i, (key, seconds) in enumerate(timed):
        cell = _cell(*key, T0 + i * dt.timedelta(minutes=2))
        results.append(Cell(**{**cell.__dict__, "seconds": seconds}))
    status = grid_status(GRID, results.folder, now=T0 + dt.timedelta(minutes=10))
    # medians by hand: baselines (30, 50) -> 40 s; source cells (100, 120, 200) -> 120 s
    assert status.cell_seconds == {"baseline": 40.0, "source": 120.0}
    # left: 2 baselines of gamma, 5 source cells (alpha-gamma 2; gamma-alpha 1, 2; gamma-beta 1, 2)
    assert status.left_by_kind == {"baseline": 2, "source": 5}
    assert status.cell_hours_left == pytest.approx((2 * 40 + 5 * 120) / 3600)
    assert "about 0.2 cell-hours left (about 0.1 h on two workers)" in status.to_text()


def test_cell_times_come_from_the_latest_stretch_when_it_has_enough_cells(tmp_path):
    results = ResultsFile(tmp_path / "results")
    old_day = T0 - dt.timedelta(days=1)
    keys = [("alpha", "beta", 1), ("alpha", "beta", 2), ("alpha", "gamma", 1),
            ("alpha", "gamma", 2), ("gamma", "alpha", 1), ("gamma", "alpha", 2)]
    for i, key in enumerate(keys[:3]):  # yesterday, on a fast machine
        results.append(Cell(**{**_cell(*key, old_day + i * dt.timedelta(minutes=1)).__dict__,
                               "seconds": 10.0}))
    for i, key in enumerate(keys[3:]):  # today: only 3 cells, fewer than MIN_RATE_CELLS
        results.append(Cell(**{**_cell(*key, T0 + i * dt.timedelta(minutes=2)).__dict__,
                               "seconds": 100.0}))
    status = grid_status(GRID, results.folder, now=T0)
    assert status.cell_seconds["source"] == pytest.approx(55.0)  # all six: (10 + 100) / 2
    for i, key in enumerate([("gamma", "beta", 1), ("gamma", "beta", 2)]):  # 5 today now
        results.append(Cell(**{**_cell(*key, T0 + (3 + i) * dt.timedelta(minutes=2)).__dict__,
                               "seconds": 100.0}))
    status = grid_status(GRID, results.folder, now=T0)
    assert status.cell_seconds["source"] == pytest.approx(100.0)  # today's stretch only


def test_tuned_score_gaps_of_recorded_models_are_named(tmp_path):
    from stepstone.bench.tuned_scores import TunedScores

    results = _results(tmp_path, [("alpha", BASELINE, 1)])
    store = TunedScores(results.folder)
    assert grid_status(GRID, results.folder).tuned_missing == {}  # nothing recorded yet
    store.models.write_text("".join(json.dumps({"source": s, "model": s}) + "\n"
                                    for s in ("beta", "gamma")))
    # beta scored on alpha only; gamma (alpha's candidate) on nothing; alpha's model unrecorded
    store.append([{"target": "alpha", "source": "beta", "method": "logme", "score": "0.1",
                   "model": "beta", "finished": "now"}])
    status = grid_status(GRID, results.folder)
    assert status.tuned_missing == {"alpha": ["gamma"], "gamma": ["beta"]}
    assert "tuned-model scores missing for 2 (target, source) pairs (alpha: 1, gamma: 1)" \
        in status.to_text()
    store.append([{"target": t, "source": s, "method": "leep", "score": "0.2", "model": s,
                   "finished": "now"} for t, s in (("alpha", "gamma"), ("gamma", "beta"))])
    status = grid_status(GRID, results.folder)
    assert status.tuned_missing == {} and "tuned-model scores missing" not in status.to_text()


def test_a_run_that_follows_another_within_minutes_is_timed_from_its_own_start(tmp_path):
    """Sessions on two machines can follow each other within minutes: the rate and the median
    cell time are those of the cells since the latest recorded start, on its machine."""
    slow = [("alpha", "beta", 1), ("alpha", "beta", 2), ("alpha", "gamma", 1),
            ("alpha", "gamma", 2), ("gamma", BASELINE, 1)]
    fast = [("gamma", BASELINE, 2), ("gamma", "alpha", 1), ("gamma", "alpha", 2),
            ("gamma", "beta", 1), ("gamma", "beta", 2), ("alpha", BASELINE, 1)]
    results = _results(tmp_path, slow, start=T0, step=dt.timedelta(minutes=12))
    restart = T0 + dt.timedelta(minutes=50)  # 2 min after the last slow cell: no pause
    for i, key in enumerate(fast):  # one cell every 3 minutes: 20 cells per hour
        results.append(_cell(*key, restart + dt.timedelta(minutes=3 * (i + 1))))
    results.write_meta({"runs": [
        {"started": T0.isoformat(), "cpu_model": "AMD EPYC", "cpus": 2},
        {"started": restart.isoformat(), "cpu_model": "Intel Xeon", "cpus": 2}]})
    status = grid_status(GRID, results.folder, now=restart + dt.timedelta(minutes=20))
    assert status.rate.cells == 6 and status.rate.cells_per_hour == pytest.approx(20.0)
    assert status.rate.first.startswith("2026-12-01T08:53")
    assert "running; Intel Xeon, 2 cpus" in status.to_text()
    # without the record the two runs are one stretch, at a rate between the two
    assert latest_run_rate(list(results.cells()), now=restart).cells == 11
