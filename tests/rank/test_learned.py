"""The learned method on a tiny hub: its scores are the stored model applied to the features
of the input methods, computed here independently, and it refuses what it cannot use."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from stepstone.errors import AdviceError, InvalidOptionError
from stepstone.hub import Hub
from stepstone.rank import rank_sources
from stepstone.rank.advice import esm_digest
from stepstone.rank.methods.learned import (FEATURES, FILE_NAME, INPUT_METHODS, SelectorModel,
                                    target_descriptors)
from tests.rank.built import built  # noqa: F401  (fixture)


def _selector(entries, kind="ridge"):
    """A ridge model with known weights: gain = 2 z(esm-logme) - z(textemb) + 0.5."""
    coef = np.zeros(len(FEATURES))
    coef[FEATURES.index("z:esm-logme")], coef[FEATURES.index("z:textemb")] = 2.0, -1.0
    return SelectorModel(kind=kind, features=list(FEATURES), mean=[0.0] * len(FEATURES),
                         scale=[1.0] * len(FEATURES), intercept=0.5, coef=coef.tolist(),
                         residuals=[-1.0, 0.0, 1.0], base_model=entries[0].base_model,
                         esms={e.id: esm_digest(e) for e in entries})


@pytest.fixture
def learned_hub(built, tmp_path):  # noqa: F811
    root = tmp_path / "hub"
    shutil.copytree(built.hub_root, root)
    hub = Hub(root)
    _selector(hub.entries()).save(root / FILE_NAME)
    return hub


def test_learned_scores_are_the_model_on_the_input_scores(learned_hub, toy_task, built):  # noqa: F811
    ranking = rank_sources(toy_task, hub=learned_hub, method="learned", advice=False)
    assert ranking.reference["score"] == 0.0  # "no intermediate step" gains nothing
    inputs = {m: rank_sources(toy_task, hub=learned_hub, method=m, advice=False)
              for m in INPUT_METHODS if m in ("esm-logme", "textemb")}
    ids = sorted(ranking.scores())
    scores = {m: r.scores() for m, r in inputs.items()}
    z = {m: (np.array([scores[m][i] for i in ids]) - np.mean(list(scores[m].values())))
         / np.std(list(scores[m].values())) for m in scores}
    expected = 2.0 * z["esm-logme"] - z["textemb"] + 0.5
    np.testing.assert_allclose([ranking.scores()[i] for i in ids], expected, rtol=1e-6)


def test_learned_needs_its_model_and_the_right_base_model(built, toy_task, tmp_path):  # noqa: F811
    root = tmp_path / "bare"
    shutil.copytree(built.hub_root, root)
    with pytest.raises(AdviceError, match="no learned selector .* bench calibrate"):
        rank_sources(toy_task, hub=Hub(root), method="learned", advice=False)
    model = _selector(Hub(root).entries())
    model.base_model = "bert-base-uncased"
    model.save(root / FILE_NAME)
    with pytest.raises(AdviceError, match="base model"):
        rank_sources(toy_task, hub=Hub(root), method="learned", advice=False)


def test_target_descriptors_describe_size_classes_and_room():
    d = target_descriptors({"task_type": "classification", "num_examples": 1000,
                            "num_classes": 4, "is_pair": True}, -0.7)
    assert d == {"log_target_rows": 3.0, "log_classes": 2.0, "regression": 0.0, "pair": 1.0,
                 "base_logme": -0.7}
    r = target_descriptors({"task_type": "regression", "num_examples": 10, "num_classes": None,
                            "is_pair": False}, None)
    assert r["regression"] == 1.0 and r["log_classes"] == 0.0 and np.isnan(r["base_logme"])


# --- the selector's gains in the rank output, only when its advice passes the bar -------------

SKILLED = {"targets": 24, "brier": 0.15, "brier_base_rate": 0.20, "mae": 1.5,
           "mae_constant": 2.0, "coverage": 0.80}


def _with_advice(hub, advice):
    model = SelectorModel.load(hub.root / FILE_NAME)
    model.residuals = [-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 4.0, 6.0, 8.0]
    model.grid, model.cells, model.targets = {"name": "synthetic", "target_examples": 64}, 30, \
        ["a", "b", "c"]
    model.target_types = ["classification"]
    model.evaluation = {"advice": advice} if advice is not None else {}
    model.save(hub.root / FILE_NAME)


def test_a_skilled_selector_shows_its_gains_with_intervals_from_its_residuals(learned_hub,
                                                                               toy_task):
    _with_advice(learned_hub, SKILLED)
    ranking = rank_sources(toy_task, hub=learned_hub, method="learned")
    residuals = np.array([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 4.0, 6.0, 8.0])
    low, high = np.quantile(residuals, [0.1, 0.9])  # the central 80 %
    for source in ranking:
        assert source.expected_gain == pytest.approx(source.score)
        assert source.gain_low == pytest.approx(source.score + low)
        assert source.gain_high == pytest.approx(source.score + high)
        # P(gain > 0): the share of residuals r with score + r > 0, counted by hand
        assert source.p_better == pytest.approx(sum(source.score + r > 0 for r in residuals) / 10)
    rec = ranking.recommendation
    assert rec["advice"]["shown"] and "passes the bar" in rec["advice"]["reason"]
    best = max(ranking, key=lambda s: s.expected_gain)
    assert best.task_name in rec["text"] and rec["model"]["grid"] == "synthetic"
    assert "3 targets: a rough guide" in rec["note"]


@pytest.mark.parametrize("advice, why", [
    (None, "skill is unknown"),
    ({**SKILLED, "brier": 0.19}, "miss the bar"),  # better than the base rate, not by 10 %
    ({**SKILLED, "coverage": 0.60}, "miss the bar"),  # intervals too narrow
    ({**SKILLED, "mae": 2.5}, "miss the bar"),
])
def test_a_selector_without_skill_shows_no_gains_and_says_why(learned_hub, toy_task, advice,
                                                               why):
    _with_advice(learned_hub, advice)
    ranking = rank_sources(toy_task, hub=learned_hub, method="learned")
    assert all(s.expected_gain is None and s.p_better is None for s in ranking)
    status = ranking.recommendation["advice"]
    assert status["shown"] is False and why in status["reason"]


# --- as the default method ----------------------------------------------------------------------

def test_the_default_is_the_first_method_the_hub_can_serve(learned_hub, built, tmp_path):  # noqa: F811
    from stepstone.rank.registry import DEFAULT_METHODS, default_method

    assert default_method(learned_hub) == (DEFAULT_METHODS[0], [])
    preference = ("learned", "esm-logme")
    assert default_method(learned_hub, preference=preference) == ("learned", [])
    bare = tmp_path / "bare"
    shutil.copytree(built.hub_root, bare)
    method, passed_over = default_method(Hub(bare), preference=preference)
    assert method == "esm-logme"
    assert len(passed_over) == 1 and "ranked without learned" in passed_over[0]
    assert "no learned selector" in passed_over[0] and "bench calibrate" in passed_over[0]
    # a selector for another base model is passed over too, and so is one for the hub's
    # model when the ranking embeds with another
    method, passed_over = default_method(learned_hub, "bert-base-uncased",
                                         preference=preference)
    assert method == "esm-logme" and "base model" in passed_over[0]
    with pytest.raises(InvalidOptionError, match="no default ranking method .*--method"):
        default_method(Hub(bare), preference=("learned",))


def test_an_unnamed_method_ranks_by_the_default_and_says_what_it_passed_over(
        learned_hub, built, toy_task, tmp_path, monkeypatch):  # noqa: F811
    from stepstone.rank import registry

    monkeypatch.setattr(registry, "DEFAULT_METHODS", ("learned", "esm-logme"))
    chosen = rank_sources(toy_task, hub=learned_hub, advice=False)
    named = rank_sources(toy_task, hub=learned_hub, method="learned", advice=False)
    assert chosen.method == "learned" and chosen.scores() == named.scores()
    assert not any("ranked without" in w for w in chosen.warnings)
    bare = tmp_path / "bare"
    shutil.copytree(built.hub_root, bare)
    fallback = rank_sources(toy_task, hub=Hub(bare), advice=False)
    assert fallback.method == "esm-logme"
    assert fallback.scores() == rank_sources(toy_task, hub=Hub(bare), method="esm-logme",
                                             advice=False).scores()
    assert any("ranked without learned" in w for w in fallback.warnings)
    # naming the method keeps the error: nothing is swapped behind the user's back
    with pytest.raises(AdviceError, match="no learned selector"):
        rank_sources(toy_task, hub=Hub(bare), method="learned", advice=False)
