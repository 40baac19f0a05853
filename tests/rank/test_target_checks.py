"""Small targets: a warning (Ranking.warnings, str(Ranking), the CLI table) with the sizes at
which the benchmark's results hold, and a refusal of a target whose classes of one example
leave fewer than two classes to compare on."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from stepstone.cli import main
from stepstone.data import TaskData, TaskType
from stepstone.errors import LabelError
from stepstone.rank import rank_sources
from stepstone.rank.target_checks import (MIN_EXAMPLES, MIN_PER_CLASS, check_target_size,
                                          class_counts, uses_labels)
from tests.helpers import make_texts


def _task(counts: list[int], names: list[str] | None = None) -> TaskData:
    labels = np.repeat(np.arange(len(counts)), counts).astype(np.int64)
    rng = np.random.default_rng(0)
    return TaskData(texts=make_texts(labels, rng), labels=labels,
                    task_type=TaskType.CLASSIFICATION, name="small", label_names=names)


def test_which_methods_use_labels():
    assert uses_labels("esm-logme") and uses_labels("leep") and uses_labels("ESM-KNN")
    assert not uses_labels("textemb") and not uses_labels("random")
    assert uses_labels("fusion:textemb,esm-logme")
    assert not uses_labels("fusion-z:textemb,vocab-overlap")


def test_classes_of_one_example_are_refused_by_name_when_too_few_are_left():
    task = _task([2, 1], names=["ham", "spam"])
    with pytest.raises(LabelError, match="class 'spam' has only one example.*esm-logme"):
        check_target_size(task, "esm-logme")
    with pytest.raises(LabelError, match="classes 'a', 'c' have only one example each"):
        check_target_size(_task([1, 3, 1], names=["a", "b", "c"]), "esm-knn")
    # a rare class beside two with spread (a sample of a skewed task) is ranked, with a warning
    warned = check_target_size(_task([60, 1, 50], names=["earn", "grain", "acq"]), "esm-logme")
    assert len(warned) == 1 and "'grain' (1)" in warned[0]
    # a label-free method does not care; it still gets the warnings
    warnings = check_target_size(task, "textemb")
    assert any("only 3 examples" in w for w in warnings)


def test_small_targets_are_warned_with_the_benchmark_sizes():
    warnings = check_target_size(_task([2, 2, 30]), "esm-logme")
    assert len(warnings) == 2
    assert "only 34 examples" in warnings[0] and "500 training examples" in warnings[0]
    assert f"2 classes of the target have fewer than {MIN_PER_CLASS}" in warnings[1]
    assert "'0' (2), '1' (2)" in warnings[1]
    # big enough: nothing to say (the thresholds are the documented constants)
    assert check_target_size(_task([MIN_EXAMPLES // 2, MIN_EXAMPLES // 2]), "esm-logme") == []
    assert len(check_target_size(_task([MIN_EXAMPLES, MIN_PER_CLASS - 1]), "esm-logme")) == 1


def test_regression_targets_are_only_counted():
    values = np.linspace(0, 1, 5)
    task = TaskData(texts=[f"t {i}" for i in range(5)], labels=values,
                    task_type=TaskType.REGRESSION, name="r")
    assert class_counts(task) == {}
    assert ["only 5 examples" in w for w in check_target_size(task, "esm-logme")] == [True]


def test_a_small_target_ranking_carries_the_warning(built):
    from stepstone.hub import Hub

    task = _task([6, 6])
    ranking = rank_sources(task, hub=Hub(built.hub_root))
    assert any("only 12 examples" in w for w in ranking.warnings)
    assert "warning: the target has only 12 examples" in str(ranking)
    assert ranking.target["class_counts"] == {"0": 6, "1": 6}
    again = type(ranking).from_json(ranking.to_json())
    assert again.warnings == ranking.warnings


def test_the_command_line_warns_and_refuses(built, tmp_path):
    small = tmp_path / "small.jsonl"
    small.write_text("".join(json.dumps({"text": t, "label": y}) + "\n" for t, y in
                             [("good fine", "pos"), ("bad poor", "neg"), ("nice", "pos")]))
    runner = CliRunner()
    refused = runner.invoke(main, ["rank", str(small), "--hub", str(built.hub_root)])
    assert refused.exit_code == 1
    assert "class 'neg' has only one example" in refused.output
    small.write_text(small.read_text() + json.dumps({"text": "ugly", "label": "neg"}) + "\n")
    warned = runner.invoke(main, ["rank", str(small), "--hub", str(built.hub_root)])
    assert warned.exit_code == 0, warned.output
    assert "Warning: the target has only 4 examples" in warned.output
    as_json = runner.invoke(main, ["rank", str(small), "--hub", str(built.hub_root),
                                   "--format", "json"])
    assert "only 4 examples" in json.loads(as_json.stdout)["warnings"][0]
