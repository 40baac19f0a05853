from __future__ import annotations

import json

import numpy as np
import pytest

from stepstone.encode import Encoder
from stepstone.errors import HubError, InvalidOptionError
from stepstone.esm import ESM, ESMConfig
from stepstone.hub import Hub
from stepstone.rank import Ranking, rank_sources
from stepstone.scores import logme


def add_random_esm(hub: Hub, name: str, model: str, *, seed: int, d: int = 32,
                   pooling: str = "mean", scale: float = 0.3) -> ESM:
    rng = np.random.default_rng(seed)
    config = ESMConfig(base_model_name=model, task_id=name, num_examples=100 + seed,
                       stepstone={"task_name": name, "task_type": "classification",
                                  "embedding": {"model_name": model, "pooling": pooling,
                                                "max_length": 128, "pair_mode": "tokenizer"},
                                  "fit": {"cosine": 0.95}})
    esm = ESM(weight=(np.eye(d) + scale * rng.standard_normal((d, d))).astype(np.float32),
              bias=(scale * rng.standard_normal(d)).astype(np.float32), config=config)
    hub.add(esm, dtype="float32")
    return esm


@pytest.fixture
def ranked_hub(tmp_path, tiny_bert):
    hub = Hub(tmp_path / "hub", create=True)
    for i, name in enumerate(["alpha", "beta", "gamma", "delta", "toy"]):
        add_random_esm(hub, name, tiny_bert, seed=i)
    return hub


def test_ranking_orders_by_esm_logme(ranked_hub, tiny_bert, toy_task):
    ranking = rank_sources(toy_task, hub=ranked_hub)
    assert [s.rank for s in ranking] == [1, 2, 3, 4]
    scores = [s.score for s in ranking]
    assert scores == sorted(scores, reverse=True) and np.isfinite(scores).all()
    # each score is LogME of the target's embeddings mapped through that ESM
    features = Encoder(tiny_bert, pooling="mean").embed_task(toy_task)
    for source in ranking:
        esm = ranked_hub.get(source.esm_id)
        assert source.score == pytest.approx(logme(esm(features.astype(np.float64)),
                                                   toy_task.labels), rel=1e-7)
    # the target's own task is left out, and said so
    assert [s.esm_id for s in ranking.excluded] == ["toy"]
    assert "toy" not in ranking.scores()
    with_target = rank_sources(toy_task, hub=ranked_hub, include_target=True)
    assert len(with_target) == 5


def test_broken_and_foreign_esms_are_reported_and_the_rest_ranked(ranked_hub, tiny_bert,
                                                                  toy_task):
    (ranked_hub.esm_dir / "beta" / "model.safetensors").write_bytes(b"\x00" * 10)
    (ranked_hub.esm_dir / "gamma" / "config.json").write_text("not json")
    add_random_esm(ranked_hub, "other_model", "someone/else", seed=9)
    add_random_esm(ranked_hub, "cls_pooled", tiny_bert, seed=10, pooling="cls")
    add_random_esm(ranked_hub, "wrong_dim", tiny_bert, seed=11, d=16)
    ranking = rank_sources(toy_task, hub=Hub(ranked_hub.root), model_name=tiny_bert)
    assert sorted(s.esm_id for s in ranking) == ["alpha", "delta"]
    reasons = {s.esm_id: s.reason for s in ranking.skipped}
    assert set(reasons) == {"beta", "gamma", "other_model", "cls_pooled", "wrong_dim"}
    assert "safetensors" in reasons["beta"]
    assert "config.json: not valid JSON" in reasons["gamma"]
    assert "someone/else" in reasons["other_model"]
    assert "cls pooling" in reasons["cls_pooled"]
    assert "16" in reasons["wrong_dim"] and "32" in reasons["wrong_dim"]


def test_ranking_converts_to_dict_json_and_pandas(ranked_hub, toy_task, tmp_path):
    ranking = rank_sources(toy_task, hub=ranked_hub)
    again = Ranking.from_dict(json.loads(ranking.to_json()))
    assert again.sources == ranking.sources and again.excluded == ranking.excluded
    path = tmp_path / "r.json"
    ranking.to_json(path)
    assert Ranking.from_json(path).sources == ranking.sources
    frame = ranking.to_pandas()
    assert list(frame.index) == [1, 2, 3, 4] and frame["esm_id"].iloc[0] == ranking[0].esm_id
    assert len(ranking.top(2)) == 2
    table = ranking.table()
    rows = [line for line in table.splitlines()[1:] if "(no intermediate step)" not in line]
    assert ranking[0].task_name in rows[0]  # the reference row may rank above it
    assert "the target's own task" in str(ranking)
    assert set(ranking.timings) >= {"embed", "score", "total"}
    assert ranking.embedding["pooling"] == "mean"


def test_second_rank_of_the_same_target_needs_no_forward_pass(ranked_hub, tiny_bert, toy_task):
    rank_sources(toy_task, hub=ranked_hub)
    encoder = Encoder(tiny_bert, pooling="mean")
    rank_sources(toy_task, hub=ranked_hub, encoder=encoder)
    assert encoder.forward_passes == 0
    with pytest.raises(HubError, match=r"no ESM in hub .*\(pooler pooling\).*made for mean"):
        rank_sources(toy_task, hub=ranked_hub, encoder=Encoder(tiny_bert, pooling="pooler"))


def test_filters_and_bad_method(ranked_hub, toy_task):
    ranking = rank_sources(toy_task, hub=ranked_hub, filters={"name": "[ab]*"})
    assert sorted(ranking.scores()) == ["alpha", "beta"]
    with pytest.raises(InvalidOptionError, match="esm-logme"):
        rank_sources(toy_task, hub=ranked_hub, method="magic")
    with pytest.raises(HubError, match="no ESMs"):
        rank_sources(toy_task, hub=ranked_hub, filters={"name": "zzz*"})


def test_regression_target(ranked_hub, toy_regression_task):
    ranking = rank_sources(toy_regression_task, hub=ranked_hub)
    assert len(ranking) == 5 and ranking.target["task_type"] == "regression"
