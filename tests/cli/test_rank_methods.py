from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from stepstone.cli import main


@pytest.fixture
def target_csv(tmp_path, toy_task):
    path = tmp_path / "target.csv"
    pd.DataFrame({"text": toy_task.texts, "label": toy_task.labels}).to_csv(path, index=False)
    return path


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.mark.parametrize("method", ["textemb", "esm-shrinkage-hscore", "fusion:esm-logme,size"])
def test_rank_with_other_methods(built, target_csv, method):
    result = run("rank", target_csv, "--hub", built.hub_root, "--method", method, "-q",
                 "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["method"] == method and len(data["sources"]) == 3


def test_rank_tuned_methods_take_models_from_the_option_or_the_environment(built, target_csv,
                                                                           monkeypatch):
    monkeypatch.delenv("STEPSTONE_MODELS", raising=False)
    missing = run("rank", target_csv, "--hub", built.hub_root, "--method", "leep", "-q")
    assert missing.exit_code == 1 and "--models DIR" in missing.output
    assert "Traceback" not in missing.output
    given = run("rank", target_csv, "--hub", built.hub_root, "--method", "leep", "-q",
                "--models", built.models)
    assert given.exit_code == 0 and "2 sources ranked" in given.output
    assert "left out gamma" in given.output  # the regression source, with its reason
    monkeypatch.setenv("STEPSTONE_MODELS", str(built.models))
    from_env = run("rank", target_csv, "--hub", built.hub_root, "--method", "nce", "-q")
    assert from_env.exit_code == 0, from_env.output


def test_rank_diverse_prints_the_selection(built, target_csv):
    result = run("rank", target_csv, "--hub", built.hub_root, "--diverse", "2", "-q")
    assert result.exit_code == 0, result.output
    assert "diverse top-2 (esm similarity, tradeoff 0.5)" in result.output
    as_json = json.loads(run("rank", target_csv, "--hub", built.hub_root, "--diverse", "2",
                             "--diverse-by", "textemb", "-q", "--format", "json").stdout)
    assert len(as_json["selected"]) == 2 and as_json["selection"]["similarity"] == "textemb"


def test_a_classification_score_on_a_regression_target_is_one_clear_line(built, tmp_path,
                                                                        toy_regression_task):
    path = tmp_path / "reg.csv"
    pd.DataFrame({"text": toy_regression_task.texts,
                  "label": toy_regression_task.labels}).to_csv(path, index=False)
    result = run("rank", path, "--hub", built.hub_root, "--method", "esm-gbc", "-q")
    assert result.exit_code == 1
    assert "gbc supports classification targets only" in result.output
    assert "Traceback" not in result.output
