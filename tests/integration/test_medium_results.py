"""The committed medium-grid results: cells are a subset of the grid, each measured once, the
reduced grid's cells are taken over unchanged, and `stepstone bench evaluate --grid medium`
reproduces the committed tables (points and bootstrap intervals) from them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stepstone._env import default_hub_path
from stepstone.bench import BASELINE, ResultsFile, evaluate_methods, load_grid
from stepstone.bench.report import REPORT_INPUTS
from stepstone.bench.tuned_scores import TunedScores
from tests.helpers import REPO, requires_shared

RESULTS = REPO / "benchmarks" / "results"
MEDIUM = RESULTS / "medium"

pytestmark = [pytest.mark.integration, requires_shared,
              pytest.mark.skipif(not (MEDIUM / "transfer.csv").is_file(),
                                 reason="no medium-grid results are committed")]

#: methods re-ranked here from the bundled hub, plus the stored tuned-model scores
METHODS = ["esm-logme", "textemb", "logme"]


@pytest.mark.parametrize(("name", "reused"), [
    (g, r) for g, r in (("medium", "reduced"), ("large", "medium"))
    if (RESULTS / g / "transfer.csv").is_file()])
def test_cells_are_the_grids_measured_once_and_take_over_the_smaller_grid(name, reused):
    """A grid measures only its own cells, each once, and takes over every cell of the grid it
    reuses unchanged (same scores, seeds and timings), not measured again."""
    grid = load_grid(name)
    cells = list(ResultsFile(RESULTS / name).cells())
    keys = {c.key: c for c in cells}
    assert len(keys) == len(cells)
    assert set(keys) <= {(t, s or BASELINE, seed) for t, s, seed in grid.cells()}
    smaller = {c.key: c for c in ResultsFile(RESULTS / reused).cells()}
    assert set(smaller) <= set(keys)
    assert all(keys[k] == smaller[k] for k in smaller)


@pytest.mark.parametrize("name", [g for g in ("medium", "large")
                                  if (RESULTS / g / "tuned_scores.csv").is_file()])
def test_tuned_scores_belong_to_the_grid(name):
    grid = load_grid(name)
    for row in TunedScores(RESULTS / name).rows():
        assert row["source"] in grid.candidates(row["target"])
        assert np.isfinite(float(row["score"]))


def report_inputs(folder: Path, grid: str = "medium") -> Path:
    """A copy of the rows the committed report was made from (report_inputs.json): the grid
    may be running in this checkout and appending cells; on a clean checkout it is all rows."""
    committed = RESULTS / grid
    counts = json.loads((committed / REPORT_INPUTS).read_text(encoding="utf-8"))
    folder.mkdir(parents=True)
    for name, rows in (("transfer.csv", counts["transfer_rows"]),
                       ("tuned_scores.csv", counts["tuned_score_rows"])):
        lines = (committed / name).read_text(encoding="utf-8").splitlines(keepends=True)
        assert len(lines) > rows, f"{name} has fewer rows than the report was made from"
        (folder / name).write_text("".join(lines[:rows + 1]), encoding="utf-8")
    for name in ("transfer.json", "source_models.jsonl"):
        (folder / name).write_bytes((committed / name).read_bytes())
    return folder


#: grids whose report is committed: each is reproduced from the rows it was made from
REPORTED = [g for g in ("medium", "large") if (RESULTS / g / "evaluation_intervals.csv").is_file()]


@pytest.fixture(scope="module", params=REPORTED)
def reproduced(request, tmp_path_factory):
    """(committed folder, a fresh evaluation of METHODS from the committed report's rows)."""
    grid = request.param
    folder = report_inputs(tmp_path_factory.mktemp("inputs") / grid, grid)
    return RESULTS / grid, evaluate_methods(load_grid(grid), folder, hub=default_hub_path(),
                                            methods=METHODS)


def test_evaluate_reproduces_the_committed_tables(reproduced):
    committed_dir, fresh = reproduced
    committed = pd.read_csv(committed_dir / "evaluation_per_target.csv")
    keep = committed["method"].isin(METHODS + ["random (expected)", "no transfer"])
    expected = committed[keep].sort_values(["method", "target"]).reset_index(drop=True)
    got = fresh.per_target.sort_values(["method", "target"]).reset_index(drop=True)
    assert got[["method", "target"]].equals(expected[["method", "target"]])
    metrics = ["regret@1", "regret@3", "regret@5", "gain@1", "ndcg", "spearman",
               "weighted_tau"]
    np.testing.assert_allclose(got[metrics].to_numpy(float), expected[metrics].to_numpy(float),
                               rtol=1e-6, atol=1e-9, equal_nan=True)
    committed = pd.read_csv(committed_dir / "evaluation_intervals.csv").set_index("method")
    got = fresh.intervals().set_index("method")
    rows = [m for m in METHODS + ["random (expected)", "no transfer",
                                  "noise ceiling (one seed)"] if m in committed.index]
    assert rows and set(rows) <= set(got.index)
    np.testing.assert_allclose(got.loc[rows, committed.columns].to_numpy(float),
                               committed.loc[rows].to_numpy(float), rtol=1e-6, atol=1e-9,
                               equal_nan=True)


def test_the_committed_paired_comparisons_are_reproduced(reproduced):
    """esm-logme minus each method: the rows of the methods re-ranked here are recomputed
    exactly (the bootstrap draws do not depend on which methods are evaluated), and the
    Benjamini-Hochberg column follows from the committed p-values of all methods."""
    from scipy.stats import false_discovery_control

    committed_dir, fresh = reproduced
    committed = pd.read_csv(committed_dir / "paired_comparisons.csv")
    got = fresh.paired().set_index(["method", "metric"])
    mine = committed[committed["method"].isin(got.index.get_level_values(0))]
    assert len(mine) >= 2 * 6  # textemb and logme (at least) on every metric
    columns = ["targets", "mean_diff", "low", "high", "p_permutation", "reference_better",
               "other_better", "ties"]
    np.testing.assert_allclose(got.loc[list(zip(mine.method, mine.metric)), columns]
                               .to_numpy(float), mine[columns].to_numpy(float), rtol=1e-6,
                               atol=1e-9, equal_nan=True)
    for _, part in committed.groupby("metric"):
        np.testing.assert_allclose(part["p_adjusted"],
                                   false_discovery_control(part["p_permutation"].to_numpy()))


def test_the_committed_fidelity_table_is_reproduced(reproduced):
    committed_dir, fresh = reproduced
    committed = pd.read_csv(committed_dir / "esm_fidelity.csv")
    got = fresh.fidelity()
    assert got["target"].tolist() == committed["target"].tolist()
    for column in ("sources", "spearman", "top-5 overlap"):
        np.testing.assert_allclose(got[column].to_numpy(float),
                                   committed[column].to_numpy(float), rtol=1e-9)
    assert got["same top-1"].tolist() == committed["same top-1"].tolist()


def test_reduced_intervals_are_reproduced():
    folder = RESULTS / "reduced" / "intervals"
    committed = pd.read_csv(folder / "evaluation_intervals.csv").set_index("method")
    fresh = evaluate_methods(load_grid("reduced"), RESULTS / "reduced", hub=default_hub_path(),
                             methods=["esm-logme", "textemb"]).intervals().set_index("method")
    rows = ["esm-logme", "textemb", "random (expected)", "no transfer",
            "noise ceiling (one seed)"]
    np.testing.assert_allclose(fresh.loc[rows, committed.columns].to_numpy(float),
                               committed.loc[rows].to_numpy(float), rtol=1e-9, atol=1e-12,
                               equal_nan=True)
    # the interval brackets the mean (a resampling bug would show here first)
    for metric in ("regret@1", "ndcg"):
        inside = fresh[f"{metric} low"] <= fresh[metric] + 1e-9
        assert inside[fresh[metric].notna()].all()
