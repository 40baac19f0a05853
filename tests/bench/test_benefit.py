"""Who benefits: shares of helpful sources per target, against hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from stepstone.bench.benefit import (baseline_association, benefit_by_kind, clearly_helps,
                                     who_benefits)
from stepstone.bench.uncertainty import TargetTruth


def test_clearly_helps_needs_a_gain_beyond_the_seed_noise():
    baseline = np.array([0.50, 0.51, 0.49])  # sd 0.01
    seeds = np.array([[0.60, 0.61, 0.59],    # +10 points, tiny noise: clearly
                      [0.52, 0.40, 0.64],    # +2 points, large noise: not clearly
                      [0.45, 0.46, 0.44],    # worse
                      [0.70, np.nan, np.nan]])  # one seed: no spread to judge by
    assert clearly_helps(seeds, baseline).tolist() == [True, False, False, False]
    # by hand for the first source: se = sqrt(0.01^2/3 + 0.01^2/3), gain 0.10 >> 1.645 se
    assert not clearly_helps(seeds, baseline, z=0.10 / np.sqrt(2 * 0.01 ** 2 / 3) + 0.01)[0]


def test_who_benefits_per_target_lowest_baseline_first():
    easy = TargetTruth(name="easy", sources=("a", "b"), seeds=np.array([[0.91, 0.92, 0.90],
                                                                        [0.80, 0.81, 0.79]]),
                       baseline=np.array([0.90, 0.90, 0.90]))
    hard = TargetTruth(name="hard", sources=("a", "b"), seeds=np.array([[0.61, 0.60, 0.62],
                                                                        [0.55, 0.56, 0.54]]),
                       baseline=np.array([0.50, 0.51, 0.49]))
    table = who_benefits([easy, hard], {"easy": "classification", "hard": "regression"})
    assert table["target"].tolist() == ["hard", "easy"]
    hard_row, easy_row = table.iloc[0], table.iloc[1]
    assert hard_row["share_helping"] == 1.0 and hard_row["best_source"] == "a"
    assert hard_row["best_gain"] == pytest.approx(11.0)
    assert hard_row["baseline"] == pytest.approx(50.0)
    assert easy_row["share_helping"] == 0.5 and easy_row["best_gain"] == pytest.approx(1.0)
    kinds = benefit_by_kind(table).set_index("group")
    assert kinds.loc["type: regression", "share_helping"] == 1.0


def test_baseline_association_sees_a_monotone_trend():
    import pandas as pd

    table = pd.DataFrame({"baseline": [40, 50, 60, 70, 80, 90],
                          "share_helping": [0.9, 0.8, 0.6, 0.5, 0.3, 0.1]})
    trend = baseline_association(table, replicates=200)
    assert trend["spearman"] == pytest.approx(-1.0)
    assert trend["low"] <= trend["spearman"] <= trend["high"] <= -0.5
