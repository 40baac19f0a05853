"""transfer-graph: TaskShop-style scores from measured transfers to pivot tasks."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from stepstone.errors import InvalidOptionError
from stepstone.hub import Hub
from stepstone.rank import rank_sources
from stepstone.rank.advice import ADVICE_FILE, AdviceModel
from stepstone.rank.methods.transfer_graph import LAMBDA, graph_scores, minmax


def test_graph_scores_by_hand():
    table = {"p1": {"a": 2.0, "b": 0.0, "c": 1.0}, "p2": {"a": -1.0, "b": 1.0}}
    sims = {"a": 1.0, "b": 3.0, "c": 2.0, "p1": 5.0, "p2": 1.0}  # scaled: /4 after -1
    got = graph_scores(table, sims, ["a", "b", "c"], "t")
    w1, w2 = 1.0, 0.0  # scaled similarity of the pivots to the target
    t = {"a": (1.0, 0.0), "b": (0.0, 1.0), "c": (0.5, None)}  # min-max per pivot
    s_hat = {"a": 0.0, "b": 0.5, "c": 0.25}
    expected_a = LAMBDA * (w1 * t["a"][0] + w2 * t["a"][1]) / (w1 + w2) + (1 - LAMBDA) * 0.0
    expected_b = LAMBDA * (w1 * t["b"][0] + w2 * t["b"][1]) / (w1 + w2) + (1 - LAMBDA) * 0.5
    expected_c = LAMBDA * 0.5 + (1 - LAMBDA) * s_hat["c"]  # measured on p1 only
    assert got == pytest.approx({"a": expected_a, "b": expected_b, "c": expected_c})


def test_the_target_is_never_its_own_pivot_and_unmeasured_sources_get_the_mean():
    table = {"t": {"a": 100.0, "b": -100.0}, "p": {"a": 0.0, "b": 1.0}}
    sims = {"a": 0.0, "b": 0.0, "x": 0.0, "p": 1.0, "t": 1.0}
    got = graph_scores(table, sims, ["a", "b", "x"], "t")
    assert got["b"] > got["a"]  # only pivot p counts: the target's own cells are ignored
    # x: the mean transfer term of a (0) and b (1), and its scaled similarity 0
    assert got["x"] == pytest.approx(LAMBDA * 0.5)


def test_minmax_constant():
    assert minmax(np.array([2.0, 2.0])).tolist() == [0.5, 0.5]


@pytest.fixture
def graph_hub(built, tmp_path):
    """The built hub (alpha, beta, gamma) with a measured table: pivots beta and gamma."""
    root = tmp_path / "hub"
    shutil.copytree(built.hub_root, root, ignore=shutil.ignore_patterns("catalog.sqlite*",
                                                                       "locks", "packed"))
    cells = [{"target": "beta", "source": "alpha", "esm_id": "alpha", "gain": 3.0},
             {"target": "beta", "source": "gamma", "esm_id": "gamma", "gain": -2.0},
             {"target": "gamma", "source": "alpha", "esm_id": "alpha", "gain": 1.0},
             {"target": "gamma", "source": "beta", "esm_id": "beta", "gain": 0.0}]
    AdviceModel(method="esm-logme", features=[], mean=[], scale=[], coef=[], intercept=0.0,
                residuals=[0.0], base_model="x", embedding={}, esms={}, grid={},
                cells=cells).save(root / ADVICE_FILE)
    return Hub(root)


@pytest.mark.parametrize("similarity", ["esm-logme", "textemb"])
def test_method_combines_measured_transfer_and_similarity(graph_hub, toy_task, similarity):
    method = "transfer-graph" if similarity == "esm-logme" else f"transfer-graph:{similarity}"
    ranking = rank_sources(toy_task, hub=graph_hub, method=method, advice=False)
    sims = rank_sources(toy_task, hub=graph_hub, method=similarity, advice=False)
    by_name = {s.task_name: s.score for s in sims}
    expected = graph_scores({"beta": {"alpha": 3.0, "gamma": -2.0},
                             "gamma": {"alpha": 1.0, "beta": 0.0}}, by_name,
                            list(by_name), toy_task.name)
    assert {s.task_name: s.score for s in ranking} == pytest.approx(expected)
    assert ranking.reference is None


def test_ranks_only_the_filtered_candidates_but_uses_every_pivot(graph_hub, toy_task):
    ranking = rank_sources(toy_task, hub=graph_hub, method="transfer-graph", advice=False,
                           filters={"ids": ["alpha"]})
    assert [s.esm_id for s in ranking] == ["alpha"]


def test_without_a_table_the_error_says_how_to_make_one(built, toy_task):
    with pytest.raises(InvalidOptionError, match="bench calibrate"):
        rank_sources(toy_task, hub=Hub(built.hub_root), method="transfer-graph")


def test_nested_similarity_is_refused():
    from stepstone.rank import get_method

    with pytest.raises(InvalidOptionError, match="plain method"):
        get_method("transfer-graph:fusion:esm-logme,textemb")


def test_an_evaluation_warns_when_transfer_graph_uses_another_grids_table(tmp_path):
    from stepstone.rank.methods.transfer_graph import is_transfer_graph, stale_table

    assert not is_transfer_graph("esm-logme")
    assert all(is_transfer_graph(m) for m in {"transfer-graph", "transfer-graph:textemb"})
    assert "no readable transfer table" in stale_table(tmp_path, "large")
    (tmp_path / "calibration.json").write_text('{"grid": {"name": "medium"}}')
    message = stale_table(tmp_path, "large")
    assert "grid medium's measured transfers" in message
    assert "bench calibrate --grid large" in message
    assert stale_table(tmp_path, "medium") is None
