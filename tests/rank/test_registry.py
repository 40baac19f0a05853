"""The method records: what lists methods reads them, a typo fails at once with a suggestion."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from stepstone.cli import main
from stepstone.data import TaskType
from stepstone.errors import InvalidOptionError, UnsupportedTargetError
from stepstone.rank import available_methods, get_method, rank_sources
from stepstone.rank.registry import Execution, Need, PoolUse, families, method_infos
from stepstone.scores import get_score

README = Path(__file__).resolve().parents[2] / "README.md"


def test_rank_help_lists_every_method():
    result = CliRunner().invoke(main, ["rank", "--help"], terminal_width=1000)
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for info in method_infos():
        assert re.search(rf"[ :,]{re.escape(info.name)}[,;]", text), info.name
    for family in families():
        assert family.example in text


def test_available_methods_are_the_records_and_families():
    names = [i.name for i in method_infos()]
    assert available_methods() == names + [f"{f.prefix}:..." for f in families()]
    assert len(set(names)) == len(names)


def test_pool_dependent_methods_are_not_run_per_source():
    for info in method_infos():
        if info.pool is not PoolUse.NONE:
            assert info.execution is not Execution.PER_SOURCE, info.name


@pytest.mark.parametrize("name, suggestion", [("esm-logmee", "esm-logme"),
                                              ("textemd", "textemb"),
                                              ("fusion:esm-logme,textem", "textemb")])
def test_an_unknown_method_suggests_the_closest(name, suggestion):
    with pytest.raises(InvalidOptionError, match=f"Did you mean '{suggestion}'"):
        get_method(name)


def test_an_unknown_score_suggests_the_closest():
    with pytest.raises(InvalidOptionError, match="Did you mean 'hscore'"):
        get_score("hscor")


def test_rank_sources_checks_the_method_before_reading_the_target():
    with pytest.raises(InvalidOptionError, match="esm-logme"):  # not "dataset not found"
        rank_sources("/no/such/target.csv", method="esm-logmee")


def test_a_mistyped_method_fails_before_any_embedding(monkeypatch, toy_pool):
    from stepstone.encode import Encoder

    def refuse(*args, **kwargs):
        raise AssertionError("the target was embedded before the method was checked")

    monkeypatch.setattr(Encoder, "__init__", refuse)
    monkeypatch.setattr(Encoder, "embed_task", refuse)
    result = CliRunner().invoke(main, ["rank", str(toy_pool / "alpha"),
                                       "--method", "esm-logmee"])
    assert result.exit_code == 2, result.output
    assert "Did you mean 'esm-logme'?" in result.output


def test_a_classification_only_method_refuses_a_regression_target_before_embedding(
        monkeypatch, built, toy_regression_task):
    from stepstone.encode import Encoder

    monkeypatch.setattr(Encoder, "embed_task", lambda *a, **k: pytest.fail("embedded"))
    only = [i.name for i in method_infos() if TaskType.REGRESSION not in i.targets]
    assert "esm-hscore" in only and "leep" in only
    with pytest.raises(UnsupportedTargetError, match="classification targets only"):
        rank_sources(toy_regression_task, hub=built.hub_root, method="esm-hscore")


def readme_method_rows() -> dict[str, list[str]]:
    """README, "Ranking methods": method name -> the cells of its table row."""
    text = README.read_text(encoding="utf-8")
    table = text[text.index("| method | needs | regression targets | whole pool |"):]
    rows = {}
    for line in table.splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        for name in re.findall(r"`([^`]+)`", cells[0].split("(e.g.")[0]):
            rows[name] = cells
    return rows


def test_readme_method_table_agrees_with_the_registry():
    rows = readme_method_rows()
    assert sorted(rows) == sorted(available_methods())
    whole_pool = {PoolUse.NONE: "no", PoolUse.NORMALISED: "normalised", PoolUse.FUSED: "fused"}
    for info in method_infos():
        _, _, regression, pool, _ = rows[info.name]
        assert regression.startswith("yes" if TaskType.REGRESSION in info.targets else "no"), \
            info.name
        assert pool == whole_pool[info.pool], info.name
    for family in families():
        assert rows[f"{family.prefix}:..."][3].startswith(whole_pool[family.pool])


def test_needs_are_declared_with_the_enum():
    for info in method_infos():
        assert all(isinstance(n, Need) for n in info.needs), info.name
