"""The learned selector on synthetic grids where the gain is a known function of the features."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stepstone.bench import selector as selector_module
from stepstone.bench.selector import (choose_kind, fit_model, loto_predictions,
                                      nested_loto_predictions, policy_gains)
from stepstone.errors import AdviceError
from stepstone.rank.methods.learned import FEATURES, SelectorModel, feature_matrix, standardised


def synthetic_cells(seed: int = 0, targets: int = 10, sources: int = 20,
                    noise: float = 0.3) -> pd.DataFrame:
    """gain = 2 z(esm-ridge) + 1.5 z(textemb) - 1 (+ noise): two features matter, the rest
    is noise."""
    rng = np.random.default_rng(seed)
    frames = []
    for t in range(targets):
        x = rng.normal(size=(sources, len(FEATURES)))
        frame = pd.DataFrame(x, columns=list(FEATURES))
        frame["gain"] = (2.0 * frame["z:esm-ridge"] + 1.5 * frame["z:textemb"] - 1.0
                         + noise * rng.normal(size=sources))
        frame["target"], frame["source"] = f"t{t}", [f"s{i}" for i in range(sources)]
        frame["esm_id"] = frame["source"]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def test_leave_one_target_out_recovers_the_function_and_beats_each_single_feature():
    cells = synthetic_cells()
    predicted = loto_predictions(cells, kind="ridge")
    truth = 2.0 * cells["z:esm-ridge"] + 1.5 * cells["z:textemb"] - 1.0
    assert np.corrcoef(predicted, truth)[0, 1] > 0.97
    learned = policy_gains(cells, predicted)["top1"].mean()
    for name in FEATURES:
        single = policy_gains(cells, cells[name].to_numpy())["top1"].mean()
        assert learned > single, name
    model = fit_model(cells[list(FEATURES)].to_numpy(), cells["gain"].to_numpy(), kind="ridge")
    weights = dict(zip(FEATURES, np.asarray(model.coef) / np.asarray(model.scale)))
    assert weights["z:esm-ridge"] == pytest.approx(2.0, abs=0.1)
    assert weights["z:textemb"] == pytest.approx(1.5, abs=0.1)


def test_a_targets_own_cells_never_reach_its_model():
    cells = synthetic_cells(targets=4, sources=6)
    seen: list[set[float]] = []

    def recording_fit(x, y, *, kind):
        seen.append({round(v, 12) for v in y})
        return fit_model(x, y, kind=kind)

    loto_predictions(cells, kind="ridge", fit=recording_fit)
    assert len(seen) == 4
    for target, trained_on in zip(cells["target"].unique(), seen):
        own = {round(v, 12) for v in cells.loc[cells["target"] == target, "gain"]}
        assert not own & trained_on, target


def test_nested_evaluation_chooses_nothing_for_a_target_with_its_cells():
    """The kind, too, is chosen without the held-out target: rewriting one target's gains
    changes no prediction for it, nor its kind (it would, through the choice between kinds, if
    the kind were chosen on every target), while the other targets' predictions do change."""
    cells = synthetic_cells(targets=5, sources=8, noise=1.0)
    before, kinds = nested_loto_predictions(cells)
    changed = cells.copy()
    own = (changed["target"] == "t0").to_numpy()
    changed.loc[own, "gain"] = -10.0 * changed.loc[own, "gain"] + 3.0
    after, kinds_after = nested_loto_predictions(changed)
    np.testing.assert_array_equal(after[own], before[own])
    assert kinds_after["t0"] == kinds["t0"] and set(kinds) == {f"t{t}" for t in range(5)}
    assert not np.allclose(after[~own], before[~own])


def test_nested_evaluation_with_one_kind_is_plain_leave_one_target_out():
    cells = synthetic_cells(targets=4, sources=6)
    nested, kinds = nested_loto_predictions(cells, kinds=("ridge",))
    np.testing.assert_array_equal(nested, loto_predictions(cells, kind="ridge"))
    assert set(kinds.values()) == {"ridge"}


def test_the_kind_is_the_one_whose_first_picks_gain_most():
    """A fake kind that predicts the measured gain (an oracle) must win over ridge, and the
    held-out predictions of each kind are returned for the report's per-kind table."""
    def fit(x, y, *, kind):
        if kind == "ridge":
            return fit_model(x, y, kind="ridge")
        return SelectorModel(kind="ridge", features=list(FEATURES), mean=[0.0] * len(FEATURES),
                             scale=[1.0] * len(FEATURES), intercept=-1.0,
                             coef=[2.0 if f == "z:esm-ridge" else 1.5 if f == "z:textemb"
                                   else 0.0 for f in FEATURES])

    cells = synthetic_cells(targets=4, sources=6, noise=2.0)
    kind, predicted = choose_kind(cells, kinds=("ridge", "oracle"), fit=fit)
    assert set(predicted) == {"ridge", "oracle"}
    gains = {k: policy_gains(cells, p)["top1"].mean() for k, p in predicted.items()}
    assert kind == max(gains, key=gains.get)


def test_boosted_trees_as_json_predict_what_scikit_learn_predicts():
    from sklearn.ensemble import GradientBoostingRegressor

    cells = synthetic_cells(seed=2)
    x, y = cells[list(FEATURES)].to_numpy(), cells["gain"].to_numpy()
    model = fit_model(x, y, kind="boosting")
    reference = GradientBoostingRegressor(**selector_module.BOOSTING).fit(x, y)
    test = np.random.default_rng(5).normal(size=(50, len(FEATURES)))
    np.testing.assert_allclose(model.predict_gain(test), reference.predict(test), rtol=1e-9,
                               atol=1e-9)
    again = SelectorModel(**{k: v for k, v in model.to_dict().items()
                             if k not in ("format", "version")})
    np.testing.assert_array_equal(again.predict_gain(test), model.predict_gain(test))


def test_policy_skips_when_no_source_is_predicted_to_gain():
    cells = pd.DataFrame({"target": ["a", "a", "b", "b"], "gain": [-2.0, 1.0, 3.0, -1.0]})
    table = policy_gains(cells, np.array([-0.5, -0.1, 0.4, 0.2])).set_index("target")
    assert table.loc["a", "skipped"] and table.loc["a", "learned"] == 0.0
    assert table.loc["a", "top1"] == 1.0  # the first pick was the one predicted -0.1
    assert table.loc["b", "learned"] == 3.0 and not table.loc["b", "skipped"]


def test_standardised_features_ignore_missing_scores():
    assert standardised([1.0, 2.0, 3.0]) == pytest.approx([-1.2247449, 0.0, 1.2247449])
    assert standardised([np.nan, 2.0, 2.0]).tolist() == [0.0, 0.0, 0.0]


def test_z_scores_are_set_by_the_sources_the_selector_was_fitted_on():
    """A hub with more sources than the grid (the bundled hub ranks 62, the grids 23) must not
    shift the features of the sources the selector knows: their z-scores are centred and scaled
    by those sources only, wherever the others score."""
    from types import SimpleNamespace

    assert standardised([1.0, 2.0, 3.0, 10.0], [True, True, True, False]) == pytest.approx(
        [-1.2247449, 0.0, 1.2247449, 9.7979590])  # (10 - 2) / sd(1, 2, 3)
    entries = {i: SimpleNamespace(num_examples=100, fit_cosine=0.9, task_type="classification")
               for i in "abcdxy"}
    target = {"log_target_rows": 2.0, "log_classes": 1.0, "regression": 0.0, "pair": 0.0,
              "base_logme": -0.5}
    grid_scores = {"esm-logme": {"a": -0.4, "b": -0.2, "c": -0.3, "d": -0.1},
                   "esm-knn": {"a": 0.5, "b": 0.7, "c": 0.6, "d": 0.9}}
    as_fitted = feature_matrix(grid_scores, list("abcd"), entries, target)
    bigger = {m: {**v, "x": 5.0, "y": -5.0} for m, v in grid_scores.items()}
    model = SelectorModel(kind="ridge", features=list(FEATURES), mean=[0.0] * len(FEATURES),
                          scale=[1.0] * len(FEATURES), intercept=0.0,
                          esms={i: "digest" for i in "abcd"})
    basis = model.scale_basis(list("abcdxy"))
    assert basis == set("abcd")
    served = feature_matrix(bigger, list("abcdxy"), entries, target, reference_ids=basis)
    np.testing.assert_allclose(served[:4], as_fitted)
    unscaled = feature_matrix(bigger, list("abcdxy"), entries, target)  # the old behaviour
    assert not np.allclose(unscaled[:4], as_fitted)
    assert model.scale_basis(list("abxy")) is None  # too few known sources: the whole pool


def test_selector_files_are_checked(tmp_path):
    path = tmp_path / "selector.json"
    path.write_text('{"format": "stepstone-advice"}')
    with pytest.raises(AdviceError, match="not a stepstone learned selector"):
        SelectorModel.load(path)
    with pytest.raises(AdviceError, match="no learned selector"):
        SelectorModel.load(tmp_path / "missing.json")
    cells = synthetic_cells(targets=3, sources=5)
    model = fit_model(cells[list(FEATURES)].to_numpy(), cells["gain"].to_numpy(), kind="ridge")
    model.base_model, model.esms = "sentence-transformers/all-MiniLM-L6-v2", {"x": "digest"}
    model.save(path)
    loaded = SelectorModel.load(path)
    with pytest.raises(AdviceError, match="base model"):
        loaded.check(model_name="bert-base-uncased", entries=[], origin="p")
    with pytest.raises(AdviceError, match="another hub"):
        loaded.check(model_name="sentence-transformers/all-MiniLM-L6-v2", entries=[], origin="p")
    assert "pickle" not in path.read_text()


def test_feature_matrix_orders_columns_as_declared():
    from types import SimpleNamespace

    entries = {i: SimpleNamespace(num_examples=n, fit_cosine=0.9, task_type="classification")
               for i, n in (("a", 100), ("b", 1000))}
    target = {"log_target_rows": 2.0, "log_classes": 1.0, "regression": 0.0, "pair": 1.0,
              "base_logme": -0.5}
    x = feature_matrix({"esm-logme": {"a": -0.4, "b": -0.2}}, ["a", "b"], entries, target)
    column = {name: x[:, i] for i, name in enumerate(FEATURES)}
    assert column["z:esm-logme"] == pytest.approx([-1.0, 1.0])
    assert column["z:textemb"].tolist() == [0.0, 0.0]  # not scored: no information
    assert column["logme_margin"] == pytest.approx([0.1, 0.3])
    assert column["log_source_rows"].tolist() == [2.0, 3.0]
    assert column["pair"].tolist() == [1.0, 1.0]


def test_advice_from_the_selector_is_nested_and_calibrated_on_a_known_function():
    from stepstone.bench.calibrate import advice_quality
    from stepstone.bench.selector import advice_loto, has_skill

    cells = synthetic_cells(seed=3, targets=8, sources=15, noise=1.0)
    loto = advice_loto(cells, kind="ridge")
    assert len(loto) == len(cells) and loto["p_better"].between(0, 1).all()
    quality = advice_quality(loto)
    # the gain is a linear function of two features plus unit noise: the advice has skill
    assert quality["brier"] < 0.9 * quality["brier_base_rate"]
    assert quality["mae"] < quality["mae_constant"]
    assert 0.65 <= quality["coverage"] <= 0.95
    assert has_skill({**quality, "coverage": 0.8}) and not has_skill(
        {**quality, "brier": quality["brier_base_rate"]})


def test_policy_intervals_resample_targets_and_pair_the_differences():
    from stepstone.bench.selector import policy_intervals

    policy = pd.DataFrame({"target": ["a", "b", "c", "d"], "top1": [2.0, -1.0, 3.0, -2.0],
                           "learned": [2.0, 0.0, 3.0, 0.0], "never": 0.0,
                           "skipped": [False, True, False, True]})
    table = policy_intervals(policy, replicates=4000).set_index("policy")
    assert table.loc["follow, incl. skip", "mean"] == pytest.approx(1.25)
    assert table.loc["always its first pick", "mean"] == pytest.approx(0.5)
    skip_vs_top = table.loc["follow, incl. skip - always its first pick"]
    assert skip_vs_top["mean"] == pytest.approx(0.75)
    # the paired difference is 0, 1, 0, 2 per target: its resampled mean lies in [0, 2]
    assert 0.0 <= skip_vs_top["low"] <= 0.75 <= skip_vs_top["high"] <= 2.0
    # exact sign flips of (1, 2) among zeros: |mean| >= 0.75 in 2 of 4 patterns
    assert skip_vs_top["p"] == pytest.approx(0.5)
    never = table.loc["never"]
    assert never["mean"] == never["low"] == never["high"] == 0.0 and np.isnan(never["p"])
    assert (table["targets"] == 4).all()
