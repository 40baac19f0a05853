"""The advice model: fitting recovers a known gain function with honest intervals, files from
another hub or base model are refused, and a ranking with a model gets the gain columns and a
recommendation computed from its features."""

from __future__ import annotations

import logging
import shutil

import numpy as np
import pandas as pd
import pytest

from stepstone.bench.calibrate import leave_one_target_out
from stepstone.errors import AdviceError
from stepstone.hub import Hub
from stepstone.rank import rank_sources
from stepstone.rank.advice import ADVICE_FILE, AdviceModel, esm_digest, worth_it
from stepstone.rank.ranking import REFERENCE_NAME


def synthetic_cells(targets: int, sources: int, seed: int) -> pd.DataFrame:
    """gain = 2 z - 1 + N(0, 1) per target, plus a target shift N(0, 0.5)."""
    rng = np.random.default_rng(seed)
    rows = []
    for t in range(targets):
        shift = rng.normal(0, 0.5)
        for s in range(sources):
            z = rng.normal()
            rows.append({"target": f"t{t}", "source": f"s{s}", "esm_id": f"s{s}", "rank": s + 1,
                         "f_z_score": z, "gain": 2 * z - 1 + shift + rng.normal()})
    return pd.DataFrame(rows)


def model_from(data: pd.DataFrame, **fields) -> AdviceModel:
    return AdviceModel.fit(data[["f_z_score"]].to_numpy(), data.gain.to_numpy(),
                           data.target.to_numpy(), ["z_score"],
                           **{"method": "esm-logme", "base_model": "m", **fields})


def test_fit_recovers_a_known_linear_gain():
    model = model_from(synthetic_cells(12, 20, seed=1))
    slope = model.coef[0] / model.scale[0]
    intercept = model.intercept - slope * model.mean[0]
    assert slope == pytest.approx(2.0, abs=0.15)
    assert intercept == pytest.approx(-1.0, abs=0.4)
    pred = model.predict(np.array([[0.0], [1.0]]))
    assert pred["gain"][1] - pred["gain"][0] == pytest.approx(slope)


def test_intervals_cover_about_80_percent_of_held_out_targets():
    model = model_from(synthetic_cells(30, 20, seed=2))
    test = synthetic_cells(40, 20, seed=3)
    pred = model.predict(test[["f_z_score"]].to_numpy())
    inside = (test.gain >= pred["low"]) & (test.gain <= pred["high"])
    assert 0.74 <= inside.mean() <= 0.86
    # P(gain > 0) is calibrated too: predicted vs observed share of wins in bins
    helped = (test.gain > 0).to_numpy()
    for low, high in [(0.0, 0.3), (0.3, 0.7), (0.7, 1.0)]:
        sel = (pred["p_better"] >= low) & (pred["p_better"] < high)
        assert abs(helped[sel].mean() - pred["p_better"][sel].mean()) < 0.1


def test_a_model_without_signal_predicts_the_mean_with_wide_intervals():
    cells = synthetic_cells(8, 15, seed=4)
    cells["f_z_score"] = np.random.default_rng(5).normal(size=len(cells))  # unrelated
    model = model_from(cells)
    pred = model.predict(np.array([[-2.0], [2.0]]))
    # slope per unit well below the 2.0 of the gain's real driver (sampling error ~0.2)
    assert abs(pred["gain"][1] - pred["gain"][0]) / 4 < 0.4
    assert (pred["high"] - pred["low"] > 3).all()


def test_leave_one_target_out_never_sees_the_target():
    cells = synthetic_cells(6, 10, seed=6)
    first = leave_one_target_out(cells, ["z_score"])
    changed = cells.copy()
    changed.loc[changed.target == "t0", "gain"] += 100.0
    second = leave_one_target_out(changed, ["z_score"])
    own = (first.target == "t0").to_numpy()
    assert np.allclose(first.predicted[own], second.predicted[own])
    assert np.allclose(first.low[own], second.low[own])
    assert not np.allclose(first.predicted[~own], second.predicted[~own])


def test_worth_it_needs_gain_and_probability():
    assert worth_it(0.5, 0.6) and not worth_it(-0.1, 0.6) and not worth_it(0.2, 0.4)


def test_json_round_trip_and_malformed_files(tmp_path):
    model = model_from(synthetic_cells(5, 8, seed=7))
    path = model.save(tmp_path / "m.json")
    again = AdviceModel.load(path)
    assert again.predict(np.array([[0.3]]))["gain"] == pytest.approx(
        model.predict(np.array([[0.3]]))["gain"])
    (tmp_path / "bad.json").write_text('{"format": "something else"}')
    with pytest.raises(AdviceError, match="not a stepstone advice model"):
        AdviceModel.load(tmp_path / "bad.json")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(AdviceError, match="cannot read"):
        AdviceModel.load(tmp_path / "broken.json")


# --- in a ranking ---------------------------------------------------------------------------


@pytest.fixture
def advised_hub(built, tmp_path, tiny_bert):
    """A copy of the built hub with an advice model fitted on synthetic cells of its ESMs."""
    root = tmp_path / "hub"
    shutil.copytree(built.hub_root, root, ignore=shutil.ignore_patterns("catalog.sqlite*",
                                                                       "locks", "packed"))
    hub = Hub(root)
    cells = synthetic_cells(5, 3, seed=8)
    ids = [e.id for e in hub.entries()]
    cells["esm_id"] = [ids[i % len(ids)] for i in range(len(cells))]
    model = model_from(cells, base_model=tiny_bert,
                       embedding={"model_name": tiny_bert, "pooling": "mean", "max_length": 128},
                       esms={e.id: esm_digest(e) for e in hub.entries()},
                       cells=cells.assign(target_rows=40, target_type="classification")
                       .to_dict(orient="records"), grid={"name": "synthetic"},
                       # a model whose stored evaluation shows skill: only such a model's gain
                       # columns are shown (tests/rank/test_recommend.py has the other case)
                       evaluation={"targets": 5, "mae": 1.0, "mae_constant": 2.0,
                                   "brier": 0.10, "brier_base_rate": 0.20})
    model.save(root / ADVICE_FILE)
    return hub, model


def test_ranking_gets_gain_columns_from_the_features(advised_hub, toy_task):
    hub, model = advised_hub
    ranking = rank_sources(toy_task, hub=hub)
    scores = np.array([s.score for s in ranking])
    z = (scores - scores.mean()) / scores.std()
    pred = model.predict(z[:, None])
    assert [s.expected_gain for s in ranking] == pytest.approx(list(pred["gain"]))
    assert [s.gain_low for s in ranking] == pytest.approx(list(pred["low"]))
    assert [s.p_better for s in ranking] == pytest.approx(list(pred["p_better"]))
    rec = ranking.recommendation
    best = max(ranking, key=lambda s: s.expected_gain)
    assert rec["expected_gain"] == pytest.approx(best.expected_gain)
    if worth_it(best.expected_gain, best.p_better):
        assert rec["source"] == best.task_name and rec["text"].startswith("Fine-tune on")
    else:
        assert rec["source"] is None and "fine-tune on your data directly" in rec["text"]
    table = ranking.table()
    assert "80% interval" in table and "P(>none)" in table
    assert rec["text"] in str(ranking)
    csv = ranking.to_csv()
    assert "recommended" in csv.splitlines()[0] and "expected_gain" in csv.splitlines()[0]


def test_no_advice_option_leaves_the_columns_out(advised_hub, toy_task):
    hub, _ = advised_hub
    ranking = rank_sources(toy_task, hub=hub, advice=False)
    assert ranking.recommendation is None and "expected_gain" not in ranking.to_pandas()
    assert REFERENCE_NAME in ranking.table() and "P(>none)" not in ranking.table()


def test_model_for_another_base_model_is_refused(advised_hub, toy_task, tmp_path, caplog):
    hub, model = advised_hub
    model.base_model = "sentence-transformers/other-model"
    path = model.save(tmp_path / "other.json")
    with pytest.raises(AdviceError, match="fitted for base model .*other-model.* bench "
                                          "calibrate"):
        rank_sources(toy_task, hub=hub, advice=path)
    model.save(hub.root / ADVICE_FILE)  # the hub's own file: warned about, columns left out
    with caplog.at_level(logging.WARNING, logger="stepstone"):  # a CLI test may have raised it
        ranking = rank_sources(toy_task, hub=hub)
    assert ranking.recommendation is None and "advice left out" in caplog.text


def test_model_for_another_hub_is_refused(advised_hub, toy_task, tmp_path):
    hub, model = advised_hub
    model.esms = {k: "0" * 16 for k in model.esms}  # the ESMs it saw were other ones
    path = model.save(tmp_path / "other-hub.json")
    with pytest.raises(AdviceError, match="fitted on ESMs that hub .* does not have"):
        rank_sources(toy_task, hub=hub, advice=path)


def test_model_for_another_method_gives_no_columns(advised_hub, toy_task):
    hub, _ = advised_hub
    ranking = rank_sources(toy_task, hub=hub, method="esm-knn")
    assert ranking.recommendation is None and all(s.expected_gain is None for s in ranking)
