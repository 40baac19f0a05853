"""The README's benchmark tables are the committed report's, as benchmarks/readme_tables.py
prints them, for every grid whose report is committed."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.helpers import benchmark_script

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "benchmarks" / "results"
REPORTED = [g for g in ("medium", "large") if (RESULTS / g / "gain_at_k.csv").is_file()]


def _script():
    return benchmark_script("readme_tables")


@pytest.mark.parametrize("grid", REPORTED)
def test_the_readme_quotes_the_committed_report(grid):
    tables = _script()
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    folder = RESULTS / grid
    for _, table in tables.tables(folder):
        missing = [line for line in table.splitlines() if line not in readme]
        assert table in readme, f"{grid}: README lacks or differs in {missing[:3]}"


def test_paired_rows_are_the_notable_ones_and_the_fixed_ones(tmp_path):
    rows = []
    for method, p_regret, p_gain in (("a", 0.5, 0.1), ("b", 0.15, 0.9), ("c", 0.3, 0.4),
                                     ("logme", 0.9, 0.9), ("no transfer", 0.5, 0.5)):
        for metric, p in (("regret@1", p_regret), ("gain@1", p_gain)):
            rows.append({"method": method, "metric": metric, "targets": 12, "mean_diff": -1.5,
                         "low": -2.0, "high": 0.25, "p_permutation": p, "reference_better": 3,
                         "other_better": 5, "ties": 4, "p_adjusted": min(1.0, 2 * p)})
    pd.DataFrame(rows).to_csv(tmp_path / "paired_comparisons.csv", index=False)
    lines = _script().paired_table(tmp_path).splitlines()[2:]
    # p < 0.2 in either metric, by gain@1 p; then LogME and no transfer whatever their p
    assert [line.split(" | ")[0] for line in lines] == [
        "| a", "| b", "| **logme** (tuned models)", "| no transfer"]
    assert lines[0] == ("| a | 12 | \u22121.50 [\u22122.00, +0.25] | 0.500 (1.00) | "
                        "\u22121.50 [\u22122.00, +0.25] | 0.100 (0.20) | 3 / 5 / 4 |")


def test_the_policy_table_reads_what_calibrate_writes(tmp_path):
    from stepstone.bench.selector import POLICIES_FILE, policy_intervals

    assert _script().policy_table(tmp_path) is None  # no selector fitted on this grid
    policy = pd.DataFrame({"target": ["a", "b"], "top1": [2.0, -1.0], "learned": [2.0, 0.0],
                           "never": 0.0, "skipped": [False, True]})
    policy_intervals(policy, replicates=50).to_csv(tmp_path / POLICIES_FILE, index=False)
    lines = _script().policy_table(tmp_path).splitlines()
    assert len(lines) == 2 + 6
    assert lines[2].startswith("| follow, incl. skip | 2 | 1.00 [") and lines[2].endswith(" |  |")
    assert lines[5].startswith("| follow, incl. skip - always its first pick | 2 | 0.50 [")
    assert lines[5].endswith("| 1.000 |")  # one non-zero difference: every sign flip ties it
