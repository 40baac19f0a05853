"""The one embedding-compatibility check that ranking and advice share."""

from __future__ import annotations

import pytest

from stepstone.esm.embedding import embedding_mismatch

SPEC = {"model_name": "sentence-transformers/all-MiniLM-L6-v2", "pooling": "mean",
        "max_length": 128, "pair_mode": "tokenizer"}


def test_the_same_embedding_matches_whatever_the_model_name_spelling():
    assert embedding_mismatch(SPEC, {**SPEC, "model_name": "all-MiniLM-L6-v2"}) is None
    assert embedding_mismatch(SPEC, dict(SPEC), pairs=True) is None


@pytest.mark.parametrize("change, expected", [
    ({"model_name": "bert-base-uncased"}, "base model 'sentence-transformers/all-MiniLM-L6-v2'; "
                                          "this ranking uses 'bert-base-uncased'"),
    ({"pooling": "cls"}, "mean pooling, max length 128; this ranking uses cls, 128"),
    ({"max_length": 256}, "mean pooling, max length 128; this ranking uses mean, 256"),
])
def test_a_different_embedding_is_named(change, expected):
    assert embedding_mismatch(SPEC, {**SPEC, **change}) == expected


def test_the_way_pairs_are_joined_matters_only_for_a_target_of_pairs():
    used = {**SPEC, "pair_mode": "sep-string"}
    assert embedding_mismatch(SPEC, used) is None
    assert embedding_mismatch(SPEC, used, pairs=True) == (
        "text pairs joined as 'tokenizer'; this ranking uses 'sep-string'")
