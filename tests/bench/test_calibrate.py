"""bench calibrate: cells from real rankings of a tiny hub, the fitted model in a ranking,
the leave-one-target-out quality figures by hand, and the CLI."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from click.testing import CliRunner

from stepstone.bench import BASELINE, Cell, Grid, ResultsFile
from stepstone.bench.calibrate import (advice_quality, calibration_cells, fit_advice,
                                       leave_one_target_out)
from stepstone.errors import AdviceError, BenchmarkError
from stepstone.hub import Hub
from stepstone.rank import rank_sources
from stepstone.rank.advice import ADVICE_FILE, AdviceModel

GAINS = {("alpha", "beta"): 2.0, ("alpha", "gamma"): -1.0, ("beta", "alpha"): 0.5,
         ("beta", "gamma"): -3.0, ("gamma", "alpha"): 1.0, ("gamma", "beta"): -0.5}


@pytest.fixture
def tiny_grid(built, tmp_path):
    """A hub copy and a results folder: 3 targets x 2 sources, baseline 0.5, 2 seeds."""
    root = tmp_path / "hub"
    shutil.copytree(built.hub_root, root, ignore=shutil.ignore_patterns("catalog.sqlite*",
                                                                       "locks", "packed"))
    names = ("alpha", "beta", "gamma")
    grid = Grid(name="tiny", targets=tuple(str(built.pool / n) for n in names),
                sources=tuple(str(built.pool / n) for n in names), target_examples=40,
                seeds=(1, 2))
    results = ResultsFile(tmp_path / "results")
    for target in names:
        metric = "pearson_spearman" if target == "gamma" else "accuracy"
        for seed, noise in ((1, -0.001), (2, 0.001)):
            cells = [(BASELINE, 0.5)] + [(s, 0.5 + GAINS[(target, s)] / 100)
                                         for s in names if s != target]
            for source, score in cells:
                results.append(Cell(target=str(built.pool / target), source=source, seed=seed,
                                    score=score + noise, metric=metric, train_examples=40,
                                    eval_examples=20, seconds=1.0, device="cpu",
                                    finished="2026-01-01T00:00:00+00:00"))
    return grid, results.folder, Hub(root)


def test_cells_join_rankings_with_measured_gains(tiny_grid, toy_task):
    grid, folder, hub = tiny_grid
    cells = calibration_cells(grid, folder, hub)
    assert len(cells) == 6
    for row in cells.itertuples():
        assert row.gain == pytest.approx(GAINS[(row.target, row.source)], abs=1e-9)
        ranking = rank_sources(grid.targets[["alpha", "beta", "gamma"].index(row.target)],
                               hub=hub, num_examples=40, seed=grid.sample_seed, advice=False)
        scores = pd.Series(ranking.scores())
        assert row.score == pytest.approx(scores[row.esm_id])
        assert row.f_z_score == pytest.approx((row.score - scores.mean()) / scores.std(ddof=0))
        assert row.f_margin_z == pytest.approx((row.score - ranking.reference["score"])
                                               / scores.std(ddof=0))
    assert set(cells.target_type) == {"classification", "regression"}

    model = fit_advice(cells, grid=grid, hub=hub, method="esm-logme",
                       features=["z_score", "regression"])
    path = model.save(hub.root / ADVICE_FILE)
    ranking = rank_sources(toy_task, hub=Hub(hub.root))  # no evaluation: skill unknown
    assert all(s.expected_gain is None for s in ranking)
    assert "without a leave-one-target-out evaluation" in ranking.recommendation_line()
    model.evaluation = {"targets": 3, "mae": 1.0, "mae_constant": 1.5, "brier": 0.1,
                        "brier_base_rate": 0.2}  # as if it had beaten both references
    model.save(path)
    ranking = rank_sources(toy_task, hub=Hub(hub.root))
    assert ranking.recommendation["model"]["cells"] == 6
    assert all(s.expected_gain is not None for s in ranking)
    assert AdviceModel.load(path).grid["name"] == "tiny"


def test_too_few_targets_is_a_clear_error(tiny_grid):
    grid, folder, hub = tiny_grid
    cells = calibration_cells(grid, folder, hub)
    with pytest.raises(AdviceError, match="at least 2 targets"):
        fit_advice(cells[cells.target == "alpha"], grid=grid, hub=hub, method="esm-logme")
    with pytest.raises(BenchmarkError, match="at least 3 targets.*--no-evaluate"):
        leave_one_target_out(cells[cells.target != "alpha"])


def test_quality_figures_by_hand():
    loto = pd.DataFrame({
        "target": ["a", "a", "b", "b"], "source": ["x", "y", "x", "y"], "rank": [1, 2, 1, 2],
        "gain": [1.0, -2.0, -1.0, 3.0], "predicted": [0.5, 1.0, -0.5, -1.0],
        "low": [0.0, 0.0, -2.0, -2.0], "high": [2.0, 2.0, 0.0, 0.0],
        "p_better": [0.6, 0.7, 0.3, 0.2], "base_rate": [0.5] * 4, "constant": [0.0] * 4})
    q = advice_quality(loto)
    assert q["mae"] == pytest.approx((0.5 + 3.0 + 0.5 + 4.0) / 4)
    assert q["mae_constant"] == pytest.approx((1 + 2 + 1 + 3) / 4)
    assert q["coverage"] == pytest.approx(2 / 4)  # 1.0 and -1.0 inside
    assert q["brier"] == pytest.approx((0.16 + 0.49 + 0.09 + 0.64) / 4)
    assert q["brier_base_rate"] == pytest.approx(0.25)
    # a: y has the best prediction (1.0, P 0.7) -> follow gains -2; top (rank 1) gains 1
    # b: best prediction x (-0.5) is not worth it -> skip (0); top gains -1
    assert [p["recommended"] for p in q["policies"]] == ["y", None]
    assert q["mean_follow"] == pytest.approx(-1.0) and q["mean_top"] == pytest.approx(0.0)
    assert q["follow_minus_never"]["mean"] == pytest.approx(-1.0)
    assert q["follow_vs_top"] == {"better": 1, "tie": 0, "worse": 1}


def test_cli_writes_the_model_and_the_quality(tiny_grid, tmp_path):
    from stepstone.cli import main

    grid, folder, hub = tiny_grid
    grid_file = tmp_path / "grid.json"
    grid_file.write_text(json.dumps(grid.to_dict()))
    out = tmp_path / "model.json"
    result = CliRunner().invoke(main, ["bench", "calibrate", "--grid", str(grid_file),
                                       "--results", str(folder), "--hub", str(hub.root),
                                       "--features", "z_score,margin_z", "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    assert "Leave-one-target-out over 3 targets, 6 cells" in result.output
    model = AdviceModel.load(out)
    assert model.evaluation["cells"] == 6 and model.features == ["z_score", "margin_z"]
    assert (folder / "advice.md").is_file()
    # the selector (fitted by default) reports its policies with intervals
    selector_md = (folder / "selector.md").read_text()
    assert "| follow, incl. skip - always its first pick | 3 |" in selector_md
    assert "| never | 3 | 0.00 [0.00, 0.00] |  |" in selector_md
    policies = pd.read_csv(folder / "selector_policies.csv")  # what the README quotes
    stored = (hub.root / "selector.json").read_text()
    assert "NaN" not in stored and json.loads(stored)["evaluation"]["policies"][0]["p"] is None
    assert policies["policy"].tolist()[:3] == ["follow, incl. skip", "always its first pick",
                                               "never"]


def test_a_target_that_cannot_be_ranked_is_left_out_with_a_warning(tiny_grid, monkeypatch,
                                                                    caplog):
    """One unrankable target (e.g. refused for its labels) leaves its cells out of the advice's
    and the selector's cells; the other targets' cells are unchanged."""
    import logging

    import stepstone.bench.calibrate as calibrate_module
    import stepstone.rank.rank as rank_module
    from stepstone.bench.selector import selector_cells
    from stepstone.errors import LabelError

    grid, folder, hub = tiny_grid
    every_cell = calibration_cells(grid, folder, hub)
    real = rank_module.rank_sources

    def refuse_alpha(target, **kwargs):
        if str(target).endswith("alpha"):
            raise LabelError("alpha: classes 'x', 'y' have only one example each")
        return real(target, **kwargs)

    monkeypatch.setattr(calibrate_module, "rank_sources", refuse_alpha)
    monkeypatch.setattr(rank_module, "rank_sources", refuse_alpha)
    with caplog.at_level(logging.WARNING, logger="stepstone"):
        cells = calibration_cells(grid, folder, hub)
        selected = selector_cells(grid, folder, hub, show_progress=False)
    assert sorted(set(cells.target)) == sorted(set(selected.target)) == ["beta", "gamma"]
    pd.testing.assert_frame_equal(cells.reset_index(drop=True),
                                  every_cell[every_cell.target != "alpha"]
                                  .reset_index(drop=True))
    assert caplog.text.count("cannot be ranked, its cells are left out") == 2
