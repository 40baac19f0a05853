"""Several workers over one grid: every cell once, every source model fine-tuned once."""

from __future__ import annotations

import json
import os
import signal
import time
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from stepstone.bench import Grid, ResultsFile, run_transfer, workers
from stepstone.bench.grids import GRIDS, MEDIUM, REDUCED
from stepstone.bench.results import BASELINE, Cell, import_reused_cells
from stepstone.bench.tuned_scores import TUNED_METHODS, TunedScores
from stepstone.bench.workers import pending_cells
from stepstone.build import BuildConfig, build_hub
from stepstone.cli import main
from stepstone.finetune import FineTuneConfig
from stepstone.hub import Hub

TINY = FineTuneConfig(epochs=1, batch_size=8, learning_rate=1e-3)


def _grid(pool) -> Grid:
    return Grid(name="toy", targets=(str(pool / "alpha"), str(pool / "gamma")),
                sources=tuple(str(pool / n) for n in ("alpha", "beta", "gamma")),
                target_examples=30, eval_examples=20, seeds=(1, 2), source_examples=30,
                source_finetune=TINY, target_finetune=TINY)


def grid_file(grid: Grid, folder) -> str:
    """``grid`` as the JSON file the command line takes."""
    path = folder / "grid.json"
    path.write_text(json.dumps(grid.to_dict()))
    return str(path)


def test_two_workers_run_every_cell_once_and_store_tuned_scores(toy_pool, tiny_bert, tmp_path):
    grid = _grid(toy_pool)
    hub = Hub(tmp_path / "hub", create=True)
    build_hub(list(grid.sources), hub, config=BuildConfig(
        model_name=tiny_bert, pooling="pooler", num_examples=30, held_out=10, finetune=TINY))
    results, models = tmp_path / "results", tmp_path / "models"
    run = run_transfer(grid, results_dir=results, models_dir=models, model_name=tiny_bert,
                       workers=2, hub=hub.root, tuned_methods=("logme", "leep"))
    cells = ResultsFile(results).cells()
    keys = [c.key for c in cells]
    expected = {(t, s or BASELINE, seed) for t, s, seed in grid.cells()}
    assert len(keys) == len(set(keys)) == len(expected) == 12  # each cell exactly once
    assert set(keys) == expected
    assert run.remaining == 0 and len(run.finished) == 12
    assert pending_cells(grid, ResultsFile(results)) == []

    store = TunedScores(results)
    recorded = [json.loads(line) for line in store.models.read_text().splitlines()]
    # one model per source: a second fine-tuning would have left a second identity
    assert sorted(r["source"] for r in recorded) == ["alpha", "beta", "gamma"]
    table = store.table()
    # logme for every (target, candidate); leep only on the classification target alpha
    assert set(table[("alpha", "logme")]) == {"beta", "gamma"}
    assert set(table[("gamma", "logme")]) == {"alpha", "beta"}
    assert set(table[("alpha", "leep")]) == {"beta"}  # gamma is a regression source
    assert ("gamma", "leep") not in table  # LEEP does not take regression targets
    assert len(store.rows()) == len({(r["target"], r["source"], r["method"])
                                     for r in store.rows()})

    # resuming is the same code for one worker or two; one runs here, without spawning
    again = run_transfer(grid, results_dir=results, models_dir=models, model_name=tiny_bert,
                         workers=1, hub=hub.root, tuned_methods=("logme", "leep"))
    assert again.finished == [] and len(ResultsFile(results).cells()) == 12

    # scores lost for one target (refused when the grid ran) are stored again from the kept
    # models, equal to the first ones; nothing else is added, and a second fill adds nothing
    lines = store.csv.read_text().splitlines()
    store.csv.write_text("\n".join(line for line in lines if not line.startswith("alpha,"))
                         + "\n")
    runner = CliRunner()
    args = ["bench", "tuned-scores", "--grid", grid_file(grid, tmp_path), "--results",
            str(results), "--models", str(models), "--tuned-methods", "logme,leep", "--hub",
            str(hub.root)]
    filled = runner.invoke(main, args)
    assert filled.exit_code == 0, filled.output
    # alpha's lost rows: logme of beta and gamma, leep of beta
    assert "stored 3 tuned-model scores from 3 kept source models" in filled.output
    assert TunedScores(results).table() == table
    assert "stored 0 " in runner.invoke(main, args).output


def test_reused_cells_are_taken_over_once(tmp_path):
    reduced = ResultsFile(tmp_path / "reduced")
    target, source = REDUCED.targets[0], REDUCED.candidates(REDUCED.targets[0])[0]
    cell = Cell(target=target, source=source, seed=42, score=0.5, metric="accuracy",
                train_examples=500, eval_examples=1000, seconds=1.0, device="cpu",
                finished="now")
    reduced.append(cell)
    reduced.append(Cell(**{**cell.__dict__, "source": "not-in-medium"}))
    medium = ResultsFile(tmp_path / "medium")
    assert import_reused_cells(MEDIUM, medium) == 1
    assert [c.key for c in medium.cells()] == [cell.key]
    assert import_reused_cells(MEDIUM, medium) == 0
    assert medium.read_meta()["imported"][0]["cells"] == 1


def test_medium_grid_extends_the_reduced_one():
    assert GRIDS["medium"] is MEDIUM and MEDIUM.reuses == ("reduced",)
    assert set(REDUCED.targets) < set(MEDIUM.targets) and len(MEDIUM.targets) == 12
    assert set(REDUCED.sources) < set(MEDIUM.sources) and len(MEDIUM.sources) == 23
    reduced_cells = set(REDUCED.cells())
    assert reduced_cells < set(MEDIUM.cells())
    assert len(MEDIUM.cells()) - len(reduced_cells) == 603


def test_cli_default_tuned_methods_are_the_library_ones():
    from stepstone.cli import bench_cmd
    from stepstone.rank.registry import tuned_methods

    assert bench_cmd.TUNED_METHODS == TUNED_METHODS == tuned_methods()


def test_large_grid_doubles_the_targets_and_keeps_the_medium_settings():
    from stepstone.bench.grids import LARGE
    from stepstone.bench.results import _COMPARABLE

    assert GRIDS["large"] is LARGE and "medium" in LARGE.reuses
    assert LARGE.targets[:12] == MEDIUM.targets and len(set(LARGE.targets)) == 24
    assert LARGE.sources == MEDIUM.sources and LARGE.seeds == MEDIUM.seeds
    assert all(getattr(LARGE, k) == getattr(MEDIUM, k) for k in _COMPARABLE)
    assert not set(LARGE.targets[12:]) & set(LARGE.sources)
    assert set(MEDIUM.cells()) < set(LARGE.cells())
    # related tasks are never candidates: sst5 shares texts with sst2, mr and subj
    assert not {"sst2", "mr", "subj"} & set(LARGE.candidates("sst5"))
    assert "stsb" not in LARGE.candidates("mrpc")


def test_a_second_machine_takes_cells_from_the_end_and_merges_them_back(toy_pool, tiny_bert,
                                                                       tmp_path):
    from click.testing import CliRunner

    from stepstone.cli import main

    grid = _grid(toy_pool)
    home, away, models = tmp_path / "home", tmp_path / "away", tmp_path / "models"
    first = run_transfer(grid, results_dir=home, models_dir=models, model_name=tiny_bert,
                         max_cells=2, tuned_methods=())
    order = pending_cells(grid, ResultsFile(home))
    away.mkdir()
    (away / "transfer.csv").write_bytes((home / "transfer.csv").read_bytes())  # the copy
    second = run_transfer(grid, results_dir=away, models_dir=models, model_name=tiny_bert,
                          max_cells=3, tuned_methods=(), from_end=True)
    assert [c.key for c in second.finished] == [(t, s or BASELINE, seed)
                                               for t, s, seed in order[::-1][:3]]
    assert len(first.finished) == 2
    grid_file = tmp_path / "toy.json"
    grid_file.write_text(json.dumps(grid.to_dict()))
    merged = CliRunner().invoke(main, ["bench", "merge", "--grid", str(grid_file), "--results",
                                       str(home), str(away)], catch_exceptions=False)
    assert merged.exit_code == 0 and "merged 3 cells" in merged.output
    from stepstone.bench.results import merge_cells

    assert merge_cells(grid, ResultsFile(home), away) == 0  # each cell once
    keys = [c.key for c in ResultsFile(home).cells()]
    assert len(keys) == len(set(keys)) == 5
    meta = ResultsFile(home).read_meta()
    assert meta["merged"][0]["cells"] == 3 and meta["merged"][0]["devices"] == ["cpu"]


def _settings(tmp_path) -> workers.WorkerSettings:
    grid = Grid(name="toy", targets=("alpha",), sources=("beta",), seeds=(1,))
    return workers.WorkerSettings(grid=grid, results_dir=str(tmp_path / "results"),
                                  models_dir=str(tmp_path / "models"), model_name="m")


def test_a_worker_whose_run_died_stops_before_its_next_cell(tmp_path, monkeypatch):
    ran = []
    settings = _settings(tmp_path)
    monkeypatch.setattr(workers, "_RUN_PID", os.getppid() + 1)  # re-parented: its run is gone
    assert workers.work(settings, lambda cell, model: ran.append(cell), lambda s: None) == 0
    assert ran == []
    monkeypatch.setattr(workers, "_RUN_PID", os.getppid())  # its run is alive: a cell runs
    settings.max_cells = 1
    assert workers.work(settings, lambda cell, model: ran.append(cell), lambda s: None) == 1
    assert len(ran) == 1


def test_sigterm_to_a_run_terminates_its_workers(tmp_path, monkeypatch):
    terminated = []

    class FakeProcess:  # alive until terminated; the first join brings the run a SIGTERM
        def __init__(self, target, args, name):
            self.name, self.exitcode = name, None

        def start(self):
            pass

        def is_alive(self):
            return self.name not in terminated

        def join(self, timeout=None):
            if not terminated:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(1)  # the handler interrupts this

        def terminate(self):
            terminated.append(self.name)

    monkeypatch.setattr(workers.multiprocessing, "get_context",
                        lambda method: SimpleNamespace(Process=FakeProcess))
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit) as stopped:
        workers.run_workers(_settings(tmp_path), 2)
    assert stopped.value.code == 128 + signal.SIGTERM
    assert terminated == ["transfer-worker-0", "transfer-worker-1"]
    assert signal.getsignal(signal.SIGTERM) is before  # the handler is the run's only
