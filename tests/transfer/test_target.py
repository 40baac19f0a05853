"""The evaluation set: the validation split, or a stratified held-out part of train."""

from __future__ import annotations

import numpy as np
import pytest

from stepstone.cli.transfer_cmd import parse_duration
from stepstone.transfer.target import stratified_holdout, target_data
from tests.helpers import make_texts, write_pool_task


def test_stratified_holdout_keeps_class_proportions_and_every_class():
    labels = np.array([0] * 80 + [1] * 15 + [2] * 5)
    held = stratified_holdout(labels, 20, seed=0, regression=False)
    counts = np.bincount(labels[held], minlength=3)
    assert counts.tolist() == [16, 3, 1] and len(set(held)) == 20
    again = stratified_holdout(labels, 20, seed=0, regression=False)
    assert np.array_equal(held, again)


def test_stratified_holdout_for_regression_spans_the_label_range():
    values = np.linspace(0, 1, 100)
    held = stratified_holdout(values, 20, seed=1, regression=True)
    assert len(held) == 20 and values[held].min() < 0.2 and values[held].max() > 0.8


def test_the_validation_split_is_used_when_there_is_one(tmp_path):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 40)
    rows = [{"text": t, "label": int(y)} for t, y in zip(make_texts(labels, rng), labels)]
    task = write_pool_task(tmp_path, "with_val", rows)
    (task / "validation.jsonl").write_text((task / "train.jsonl").read_text())
    data = target_data(task, columns={}, num_examples=None, eval_examples=15, holdout=0.2,
                       seed=1)
    assert data.evaluation["source"] == "validation split" and len(data.held) == 15
    assert len(data.train) == 40


@pytest.mark.parametrize("text,seconds", [("45m", 2700), ("2h", 7200), ("1h30m", 5400),
                                          ("90", 90), ("30s", 30)])
def test_budget_durations(text, seconds):
    assert parse_duration(None, None, text) == seconds


def test_a_bad_budget_says_what_is_expected():
    import click

    with pytest.raises(click.BadParameter, match="45m, 2h"):
        parse_duration(None, None, "soon")


def test_held_out_rows_are_named_and_capped_for_evaluation(tmp_path):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 100)
    rows = [{"text": t, "label": int(y)} for t, y in zip(make_texts(labels, rng), labels)]
    task = write_pool_task(tmp_path, "no_val", rows)
    data = target_data(task, columns={}, num_examples=None, eval_examples=12, holdout=0.2,
                       seed=3)
    held, scored = data.evaluation["held_out_rows"], data.evaluation["evaluated_rows"]
    assert len(held) == 20 and len(scored) == 12 == len(data.held) and set(scored) <= set(held)
    assert len(data.train) == 80  # every held-out row is kept out of training
    full = [r["text"] for r in rows]
    assert data.held.texts == [full[i] for i in scored]
