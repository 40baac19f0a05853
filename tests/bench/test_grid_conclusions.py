"""The rules benchmarks/grid_conclusions.py states the README's conclusions by, on hand-made
tables: an interval that contains zero concludes nothing, a method is called better than
ESM-LogME only with both an interval and a BH-adjusted p, and the learned selector becomes the
default only with its paired gain@1 interval above zero."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.helpers import REPO, benchmark_script


def _script():
    return benchmark_script("grid_conclusions")


def _intervals(gain, low, high):
    return pd.DataFrame([{"method": "esm-logme", "targets": 24, "gain@1": gain,
                          "gain@1 low": low, "gain@1 high": high}])


def _paired(method, metric, diff, low, high, p_adjusted):
    return {"method": method, "metric": metric, "targets": 24, "mean_diff": diff, "low": low,
            "high": high, "p_permutation": p_adjusted / 2, "p_adjusted": p_adjusted,
            "reference_better": 5, "other_better": 12, "ties": 7}


def test_the_first_pick_helps_only_with_an_interval_above_zero():
    rule = _script().first_pick_helps
    assert rule(_intervals(1.4, 0.2, 2.6))[0]
    helps, text = rule(_intervals(1.4, -0.7, 3.6))
    assert not helps and "contains zero" in text
    helps, text = rule(_intervals(-1.0, -2.0, -0.1))
    assert not helps and "loses" in text


def test_a_method_is_better_only_with_an_interval_and_a_corrected_p():
    paired = pd.DataFrame([
        _paired("a", "gain@1", -1.0, -2.0, -0.2, 0.01),     # better: both bars
        _paired("b", "gain@1", -1.0, -2.0, -0.2, 0.30),     # interval only: suggestive
        _paired("c", "regret@1", 2.0, 0.5, 3.0, 0.01),      # lower regret than ESM-LogME
        _paired("d", "gain@1", 1.0, 0.2, 2.0, 0.01),        # worse than ESM-LogME: not listed
        _paired("e", "spearman", -0.2, -0.4, 0.1, 0.20),    # neither bar
        _paired("no transfer", "gain@1", -1.0, -2.0, -0.2, 0.01),  # not a ranking
    ])
    shown, suggestive = _script().better_than_reference(paired)
    assert [line.split(" ")[0] for line in shown] == ["a", "c"]
    assert [line.split(" ")[0] for line in suggestive] == ["b"]


def test_learned_becomes_the_default_only_with_its_gain_interval_above_zero():
    rule = _script().learned_becomes_default
    # rows are ESM-LogME minus learned: learned ahead by 1.2 [0.3, 2.0]
    default, text = rule(pd.DataFrame([_paired("learned", "gain@1", -1.2, -2.0, -0.3, 0.04)]))
    assert default and "+1.20 [+0.30, +2.00]" in text
    default, text = rule(pd.DataFrame([_paired("learned", "gain@1", -0.7, -2.0, 0.35, 0.4)]))
    assert not default and "esm-logme stays the default" in text
    assert not rule(pd.DataFrame([_paired("esm-knn", "gain@1", -1.2, -2.0, -0.3, 0.04)]))[0]


@pytest.mark.parametrize("grid", [g for g in ("medium", "large")
                                  if (REPO / "benchmarks" / "results" / g /
                                      "conclusions.md").is_file()])
def test_the_committed_conclusions_follow_from_the_committed_report(grid):
    """conclusions.md (what the README's conclusions quote) is what the rules give on the
    committed report's files and the bundled hub's advice models."""
    from stepstone._env import default_hub_path

    folder = REPO / "benchmarks" / "results" / grid
    script = _script()
    expected = script.conclusions(folder, default_hub_path(), grid)
    assert (folder / script.CONCLUSIONS_FILE).read_text(encoding="utf-8") == expected
