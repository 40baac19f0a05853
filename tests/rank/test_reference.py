"""The reference row "(no intermediate step)": the identity map (ESM methods) or the base model
(methods on tuned models), scored by the same method; margins; table and CSV output."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from stepstone.encode import Encoder
from stepstone.hub import Hub
from stepstone.rank import rank_sources
from stepstone.rank.ranking import REFERENCE_NAME
from stepstone.scores import get_score, logme


def base_features(tiny_bert, task):
    return Encoder(tiny_bert, pooling="mean").embed_task(task).astype(np.float64)


def test_esm_logme_reference_is_logme_of_the_base_embeddings(built, toy_task, tiny_bert):
    ranking = rank_sources(toy_task, hub=Hub(built.hub_root), advice=False)
    expected = logme(base_features(tiny_bert, toy_task), toy_task.labels)
    ref = ranking.reference
    assert ref["score"] == pytest.approx(expected, rel=1e-6)
    assert ref["kind"] == "identity map"
    assert ref["rank"] == 1 + sum(s.score > expected for s in ranking)
    for s in ranking:
        assert s.margin == pytest.approx(s.score - ref["score"], abs=1e-12)


@pytest.mark.parametrize("score", ["knn", "ridge", "shrinkage-hscore"])
def test_other_esm_scores_use_the_identity_map(built, toy_task, tiny_bert, score):
    ranking = rank_sources(toy_task, hub=Hub(built.hub_root), method=f"esm-{score}",
                           advice=False)
    info = get_score(score)
    expected = info.func(base_features(tiny_bert, toy_task), toy_task.labels)
    assert ranking.reference["score"] == pytest.approx(expected, rel=1e-7)


def test_regression_target_reference(built, toy_regression_task, tiny_bert):
    ranking = rank_sources(toy_regression_task, hub=Hub(built.hub_root), advice=False)
    expected = logme(base_features(tiny_bert, toy_regression_task), toy_regression_task.labels,
                     regression=True)
    assert ranking.reference["score"] == pytest.approx(expected, rel=1e-6)


def test_tuned_logme_reference_is_the_base_model(built, toy_task, tiny_bert):
    ranking = rank_sources(toy_task, hub=Hub(built.hub_root), method="logme",
                           models_dir=built.models)
    assert ranking.reference["kind"] == "base model"
    assert ranking.reference["score"] == pytest.approx(
        logme(base_features(tiny_bert, toy_task), toy_task.labels), rel=1e-6)


def test_label_free_baselines_have_no_reference(built, toy_task):
    ranking = rank_sources(toy_task, hub=Hub(built.hub_root), method="textemb")
    assert ranking.reference is None and all(s.margin is None for s in ranking)
    assert REFERENCE_NAME not in ranking.table()
    assert "margin" not in ranking.table()


def test_fusion_reference_is_fused_as_one_more_candidate(built, toy_task, tiny_bert):
    fused = rank_sources(toy_task, hub=Hub(built.hub_root), method="fusion:esm-logme,esm-knn")
    a = rank_sources(toy_task, hub=Hub(built.hub_root), method="esm-logme")
    b = rank_sources(toy_task, hub=Hub(built.hub_root), method="esm-knn")

    def rank_of(ranking, value):  # rank among the sources and the reference, 1 = best;
        # ties (kNN accuracies are discrete) share their average rank
        return 1 + sum(s.score > value for s in ranking) + \
            0.5 * sum(s.score == value for s in ranking)

    expected = 1 / (60 + rank_of(a, a.reference["score"])) + \
        1 / (60 + rank_of(b, b.reference["score"]))
    assert fused.reference["score"] == pytest.approx(expected)


def test_table_places_the_reference_row_at_its_rank(built, toy_task):
    ranking = rank_sources(toy_task, hub=Hub(built.hub_root), advice=False)
    lines = ranking.table().splitlines()
    row = next(i for i, line in enumerate(lines) if REFERENCE_NAME in line)
    assert row == ranking.reference["rank"]  # line 0 is the header, source r is line r
    assert f"({ranking.reference['rank']})" in lines[row]
    # shown below a cut-off table after "..." when it ranks lower
    ranking.reference["rank"] = len(ranking) + 1
    top = ranking.table(1).splitlines()
    assert REFERENCE_NAME in top[-1] and (len(ranking) == 1 or "..." in top[-2])


def test_csv_has_the_reference_row_and_no_empty_advice_columns(built, toy_task):
    ranking = rank_sources(toy_task, hub=Hub(built.hub_root), advice=False)
    frame = pd.read_csv(io.StringIO(ranking.to_csv()))
    assert list(frame.task_name)[-1] == REFERENCE_NAME
    assert frame.score.iloc[-1] == pytest.approx(ranking.reference["score"])
    assert pd.isna(frame["rank"].iloc[-1]) and frame.margin.iloc[-1] == 0
    assert "expected_gain" not in frame and "recommended" not in frame
    assert list(frame["rank"].iloc[:-1]) == list(range(1, len(ranking) + 1))


def test_json_round_trip_keeps_reference(built, toy_task):
    from stepstone.rank import Ranking

    ranking = rank_sources(toy_task, hub=Hub(built.hub_root), advice=False)
    again = Ranking.from_json(ranking.to_json())
    assert again.reference == ranking.reference
    assert [s.margin for s in again] == [s.margin for s in ranking]
