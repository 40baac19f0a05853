"""The committed reduced-grid results: `stepstone bench evaluate` reproduces the committed
table (for the methods that need no kept tuned models), and the ground truth is complete."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stepstone._env import default_hub_path
from stepstone.bench import GroundTruth, ResultsFile, evaluate_methods, load_grid
from tests.helpers import REPO, requires_shared

RESULTS = REPO / "benchmarks" / "results" / "reduced"

pytestmark = [pytest.mark.integration, requires_shared,
              pytest.mark.skipif(not (RESULTS / "evaluation_per_target.csv").is_file(),
                                 reason="the reduced grid's report is not committed")]

#: evaluated here from scratch (the methods on kept tuned models need artifacts/models)
METHODS = ["esm-logme", "textemb", "vocab-overlap"]


def test_ground_truth_is_complete():
    grid = load_grid("reduced")
    cells = ResultsFile(RESULTS).cells()
    assert {c.key for c in cells} == {(t, s or "(no transfer)", seed)
                                      for t, s, seed in grid.cells()}
    truth = GroundTruth.from_results(ResultsFile(RESULTS), grid)
    assert truth.summary()["sources"].tolist() == [len(grid.candidates(t)) for t in truth.targets]


def test_evaluate_reproduces_the_committed_table():
    committed = pd.read_csv(RESULTS / "evaluation_per_target.csv")
    fresh = evaluate_methods(load_grid("reduced"), RESULTS, hub=default_hub_path(),
                             methods=METHODS).per_target
    keep = committed["method"].isin(METHODS + ["random (expected)", "no transfer"])
    expected = committed[keep].sort_values(["method", "target"]).reset_index(drop=True)
    got = fresh.sort_values(["method", "target"]).reset_index(drop=True)
    assert got[["method", "target", "type"]].equals(expected[["method", "target", "type"]])
    metrics = ["regret@1", "regret@3", "regret@5", "ndcg", "spearman", "weighted_tau"]
    np.testing.assert_allclose(got[metrics].to_numpy(float), expected[metrics].to_numpy(float),
                               rtol=1e-6, atol=1e-9, equal_nan=True)
