"""A tiny grid end to end: transfer cells, resume, evaluation and report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from stepstone.bench import (BASELINE, Grid, GroundTruth, ResultsFile, evaluate_methods,
                             load_grid, run_transfer, target_samples, transfer_metric,
                             write_report)
from stepstone.bench import transfer as transfer_module
from stepstone.data import TaskData, TaskType
from stepstone.finetune import FineTuneConfig
from stepstone.build import BuildConfig, build_hub
from stepstone.hub import Hub

TINY = FineTuneConfig(epochs=1, batch_size=8, learning_rate=1e-3)


@pytest.fixture
def grid(toy_pool) -> Grid:
    return Grid(name="toy", targets=(str(toy_pool / "alpha"), str(toy_pool / "gamma")),
                sources=tuple(str(toy_pool / n) for n in ("alpha", "beta", "gamma")),
                target_examples=30, eval_examples=20, seeds=(1, 2), source_examples=30,
                source_finetune=TINY, target_finetune=TINY)


def test_cells_exclude_the_target_and_related_tasks(grid):
    cells = grid.cells()
    assert len(cells) == 2 * 2 * 3
    assert all(not (s and s.endswith(t.rsplit("/", 1)[-1])) for t, s, _ in cells)
    reduced = load_grid("reduced")
    assert "trec_fine" not in reduced.candidates("trec_coarse")
    assert "emobank_arousal" not in reduced.candidates("emobank_valence")
    assert len(reduced.candidates("tweeteval_emotion")) == 16
    assert len(reduced.cells()) == 5 * 3 + 3 * (16 + 16 + 15 + 15 + 15)  # cr loses none


def test_the_report_names_every_left_out_source():
    from stepstone.bench.report import exclusions_lines

    large = load_grid("large")
    line = exclusions_lines(large)[0]
    expected = {"emobank_valence": "emobank_arousal", "mrpc": "stsb", "rte": "itself",
                "sick_entailment": "sick_relatedness", "sst5": "mr, sst2, subj",
                "stsb": "itself", "trec_coarse": "trec_fine"}
    for target, left_out in expected.items():
        assert f"{target} (not {left_out})" in line
    assert line.count("(not ") == len(expected)  # every other target has all 23 candidates
    assert sum(len(large.candidates(t)) for t in large.targets) == 24 * 23 - 9  # 543 x 3 seeds + 72 baselines = 1,701 cells
    assert exclusions_lines(Grid(name="none", targets=("a",), sources=("b",), seeds=(1,))) == []


def test_the_report_says_how_fitted_methods_were_kept_from_their_targets():
    from stepstone.bench.report import fitted_methods_lines

    assert fitted_methods_lines({"esm-logme", "textemb"}) == []
    learned = fitted_methods_lines({"esm-logme", "learned"})[0]
    assert "nested leave-one-target-out" in learned and "transfer-graph" not in learned
    both = fitted_methods_lines({"learned", "transfer-graph:textemb"})[0]
    assert "calibration.json" in both and "never its own pivot" in both


def test_target_samples_are_disjoint(grid):
    train, held = target_samples(grid.targets[0], grid)
    assert len(train) == 30 and len(held) == 20
    assert not set(train.texts) & set(held.texts)


def test_metric():
    cls = TaskData(texts=["a", "b", "c", "d"], labels=np.array([0, 1, 1, 0]),
                   task_type=TaskType.CLASSIFICATION)
    assert transfer_metric(cls, np.array([0, 1, 0, 0])) == (0.75, "accuracy")
    reg = TaskData(texts=["a", "b", "c"], labels=np.array([1.0, 2.0, 4.0]),
                   task_type=TaskType.REGRESSION)
    score, name = transfer_metric(reg, np.array([1.0, 3.0, 2.5]))
    assert name == "pearson_spearman"
    assert score == pytest.approx((np.corrcoef([1, 3, 2.5], [1, 2, 4])[0, 1] + 0.5) / 2)
    assert transfer_metric(reg, np.ones(3))[0] == 0.0


def test_grid_runs_resumes_and_is_evaluated(grid, tiny_bert, tmp_path, monkeypatch):
    results, models = tmp_path / "results", tmp_path / "models"
    first = run_transfer(grid, results_dir=results, models_dir=models, model_name=tiny_bert,
                         max_cells=5)
    assert len(first.finished) == 5 and first.remaining == 7
    calls = []
    real = transfer_module.fine_tune
    monkeypatch.setattr(transfer_module, "fine_tune",
                        lambda *a, **kw: calls.append(kw.get("start_from")) or real(*a, **kw))
    second = run_transfer(grid, results_dir=results, models_dir=models, model_name=tiny_bert)
    assert len(second.finished) == 7 and second.remaining == 0
    assert len(calls) == 7  # finished cells were not redone
    cells = ResultsFile(results).cells()
    assert len({c.key for c in cells}) == 12
    assert {c.metric for c in cells} == {"accuracy", "pearson_spearman"}
    assert json.loads((results / "transfer.json").read_text())["grid"]["name"] == "toy"
    third = run_transfer(grid, results_dir=results, models_dir=models, model_name=tiny_bert)
    assert third.finished == [] and len(calls) == 7

    truth = GroundTruth.from_results(ResultsFile(results), grid)
    assert truth.baseline(grid.targets[0]) is not None
    assert truth.gains().shape == (2, 3)
    summary = truth.summary()
    assert set(summary["type"]) == {"classification", "regression"}

    hub = Hub(tmp_path / "hub", create=True)
    build_hub(list(grid.sources), hub, config=BuildConfig(
        model_name=tiny_bert, pooling="pooler", num_examples=30, held_out=10, finetune=TINY))
    evaluation = evaluate_methods(grid, results, hub=hub, methods=["esm-logme"])
    table = evaluation.per_target
    assert set(table["method"]) == {"esm-logme", "random (expected)", "no transfer"}
    assert len(table) == 2 * 3
    assert len(evaluation.predictions["esm-logme"][grid.targets[0]]) == 2
    report = write_report(grid, truth, evaluation, tmp_path / "report")
    text = report.read_text()
    assert "Share of (target, source) pairs above the no-transfer baseline" in text
    assert "| method | target | type |" in text
    for name in ("gains.png", "regret_curves.png", "esm_logme_vs_gain.png"):
        assert (tmp_path / "report" / name).stat().st_size > 1000
    assert "### gain@k: how many picks to try" in text and "### Who benefits" in text
    gain_at_k = pd.read_csv(tmp_path / "report" / "gain_at_k.csv").set_index("method")
    assert (gain_at_k.loc["no transfer", [f"gain@{k}" for k in range(1, 6)]] == 0).all()
    benefit = pd.read_csv(tmp_path / "report" / "who_benefits.csv")
    assert sorted(benefit["target"]) == sorted(Path(t).name for t in grid.targets)
    page = (tmp_path / "report" / "report.html").read_text()  # the same, one file to share
    plots = [line for line in text.splitlines() if line.startswith("![")]
    assert len(plots) == 4  # gains, regret curves, ESM-LogME vs gain, intervals
    assert page.count('src="data:image/png;base64,') == len(plots) and "Share of (target" in page
    assert page.count("<table") == sum(line.startswith("|---") for line in text.splitlines())


def test_interrupted_append_is_repaired(tmp_path):
    from stepstone.bench import Cell

    results = ResultsFile(tmp_path)
    cell = Cell(target="t", source=BASELINE, seed=1, score=0.5, metric="accuracy",
                train_examples=10, eval_examples=5, seconds=1.0, device="cpu", finished="now")
    results.append(cell)
    with open(results.csv, "a") as handle:
        handle.write("t,src,2,0.7")  # a crash in the middle of a line
    assert [c.key for c in results.cells()] == [("t", BASELINE, 1)]
    results.append(Cell(**{**cell.__dict__, "seed": 3}))
    assert [c.seed for c in results.cells()] == [1, 3]


def test_cli_evaluate_reads_committed_results(grid, tiny_bert, tmp_path):
    from stepstone.cli import main

    results = tmp_path / "results"
    run_transfer(grid, results_dir=results, models_dir=tmp_path / "m", model_name=tiny_bert)
    grid_file = tmp_path / "grid.json"
    grid_file.write_text(json.dumps(grid.to_dict()))
    hub = Hub(tmp_path / "hub", create=True)
    build_hub(list(grid.sources), hub, config=BuildConfig(
        model_name=tiny_bert, pooling="pooler", num_examples=30, held_out=10, finetune=TINY))
    out = CliRunner().invoke(main, ["bench", "evaluate", "--grid", str(grid_file), "--results",
                                    str(results), "--hub", str(hub.root), "-q"])
    assert out.exit_code == 0, out.output
    assert out.output.splitlines()[0].startswith("Mean over targets [90 % bootstrap interval")
    assert "| method | targets | regret@1 |" in out.output
    assert "esm-logme" in out.output and "random (expected)" in out.output

    # the complete grid's evidence goes into the hub; with a cell missing it goes beside the
    # results and the hub's file is kept
    evidence = ["bench", "evidence", "--grid", str(grid_file), "--results", str(results),
                "--hub", str(hub.root), "--methods", "esm-logme", "-q"]
    out = CliRunner().invoke(main, evidence)
    assert out.exit_code == 0, out.output
    assert f"wrote {hub.root / 'evidence.json'}" in out.output
    in_hub = (hub.root / "evidence.json").read_bytes()
    lines = (results / "transfer.csv").read_text().splitlines(keepends=True)
    (results / "transfer.csv").write_text("".join(lines[:-1]))
    out = CliRunner().invoke(main, evidence)
    assert out.exit_code == 0, out.output
    assert "1 cells left" in out.output and (results / "evidence.json").is_file()
    assert (hub.root / "evidence.json").read_bytes() == in_hub
