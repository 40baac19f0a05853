"""rank_sources' option groups: the same defaults, flat names routed to their group."""

from __future__ import annotations

import inspect

import pytest

from stepstone.errors import InvalidOptionError
from stepstone.rank import rank_sources
from stepstone.rank.options import (EmbeddingOptions, ExecutionOptions, SelectionOptions,
                                    TargetOptions, split_options)


def test_flat_names_go_to_their_group_and_groups_keep_their_other_fields():
    data, embedding, selection, execution = split_options(
        {"num_examples": 10, "diverse": 2, "precision": "bfloat16", "show_progress": False},
        {SelectionOptions: SelectionOptions(diversity=0.9)})
    assert data == TargetOptions(num_examples=10)
    assert embedding == EmbeddingOptions(precision="bfloat16")
    assert selection == SelectionOptions(diverse=2, diversity=0.9)
    assert execution == ExecutionOptions(show_progress=False)


def test_defaults_are_the_old_ones():
    assert TargetOptions().seed == 42 and SelectionOptions().diversity == 0.5
    assert SelectionOptions().diverse_by == "esm" and EmbeddingOptions().precision == "float32"
    assert str(ExecutionOptions().engine) == "local"


def test_unknown_option_lists_the_valid_ones():
    with pytest.raises(InvalidOptionError, match="unknown option.*num_exampels.*num_examples"):
        split_options({"num_exampels": 3}, {})


def test_entry_point_reads_at_a_glance():
    params = inspect.signature(rank_sources).parameters
    assert [p for p in params if params[p].kind is not inspect.Parameter.VAR_KEYWORD] == \
        ["target", "hub", "method", "data", "embedding", "selection", "execution"]


def test_groups_and_flat_names_rank_the_same(built, toy_task):
    from stepstone.hub import Hub

    flat = rank_sources(toy_task, hub=Hub(built.hub_root), num_examples=40, seed=3,
                        include_target=True, advice=False)
    grouped = rank_sources(toy_task, hub=Hub(built.hub_root),
                           data=TargetOptions(num_examples=40, seed=3),
                           selection=SelectionOptions(include_target=True, advice=False))
    assert flat.scores() == grouped.scores() and flat.target == grouped.target
