from __future__ import annotations

import json
import shutil

import pytest

from stepstone.hub import Hub
from stepstone.rank import Ranking, rank_sources
from tests.rank.test_rank import add_random_esm


@pytest.fixture
def hub_with_copy(built, tmp_path, tiny_bert):
    """The built hub plus a source with a very different (random) ESM."""
    root = tmp_path / "hub"
    shutil.copytree(built.hub_root, root)
    add_random_esm(Hub(root), "zeta", tiny_bert, seed=5, scale=1.0)
    return root


def test_diverse_selection_avoids_a_duplicate(hub_with_copy, toy_task):
    plain = rank_sources(toy_task, hub=Hub(hub_with_copy))
    best = plain[0].esm_id
    shutil.copytree(hub_with_copy / "esms" / best, hub_with_copy / "esms" / f"{best}_copy")
    ranking = rank_sources(toy_task, hub=Hub(hub_with_copy), diverse=2, diversity=10.0)
    top_two = {ranking[0].esm_id, ranking[1].esm_id}
    assert top_two == {best, f"{best}_copy"}  # equal scores: both on top of the ranking
    picks = [s.esm_id for s in ranking.selected]
    # the copy adds nothing new; the random ESM reshapes the target most differently
    assert picks[0] in top_two and picks[1] == "zeta"
    assert "diverse" in ranking.timings and "diverse" not in plain.timings
    assert ranking.selected[0].redundancy == 0.0 and ranking.selected[1].redundancy < 0.9
    assert ranking.selection["similarity"] == "esm" and ranking.selection["k"] == 2
    # without diversity pressure the copy is taken
    greedy = rank_sources(toy_task, hub=Hub(hub_with_copy), diverse=2, diversity=0.0)
    assert {s.esm_id for s in greedy.selected} == top_two
    assert greedy.selected[1].redundancy == pytest.approx(1.0, abs=1e-5)


def test_textemb_similarity_and_round_trip(hub_with_copy, toy_task, tmp_path):
    ranking = rank_sources(toy_task, hub=Hub(hub_with_copy), diverse=2, diverse_by="textemb")
    assert len(ranking.selected) == 2 and ranking.selection["similarity"] == "textemb"
    assert ranking.selection["left_out"] == {"zeta": "no stored mean embedding"}
    again = Ranking.from_dict(json.loads(ranking.to_json()))
    assert again.selected == ranking.selected and again.selection == ranking.selection
    assert "diverse top-2" in str(ranking)
    # results written before the diverse selection existed still load
    old = ranking.to_dict()
    del old["selected"], old["selection"]
    assert Ranking.from_dict(old).selected == []
