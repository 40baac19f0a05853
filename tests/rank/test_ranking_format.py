"""A ranking's JSON carries its format version; a reader refuses a newer one."""

from __future__ import annotations

import json

import pytest

from stepstone.errors import FormatError
from stepstone.rank import RankedSource, Ranking
from stepstone.rank.ranking import FORMAT_VERSION


def small_ranking() -> Ranking:
    source = RankedSource(rank=1, esm_id="a", task_name="a", score=1.5, task_type="regression",
                          num_examples=10, fit_cosine=0.9)
    return Ranking(target={"name": "t"}, method="esm-logme", sources=[source])


def test_to_dict_writes_the_format_version_and_reads_it_back():
    data = json.loads(small_ranking().to_json())
    assert data["format_version"] == FORMAT_VERSION
    assert Ranking.from_dict(data).sources == small_ranking().sources


def test_a_ranking_without_a_version_is_read_as_version_1():
    data = small_ranking().to_dict()
    del data["format_version"]
    assert Ranking.from_dict(data).method == "esm-logme"


@pytest.mark.parametrize("version", [FORMAT_VERSION + 1, "2"])
def test_a_newer_or_malformed_version_is_refused(version):
    data = {**small_ranking().to_dict(), "format_version": version}
    with pytest.raises(FormatError, match="format version"):
        Ranking.from_dict(data)
