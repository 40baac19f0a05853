from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from stepstone.cli import main
from stepstone.hub import Hub
from tests.rank.test_rank import add_random_esm


@pytest.fixture
def cli_hub(tmp_path, tiny_bert):
    hub = Hub(tmp_path / "hub", create=True)
    for i, name in enumerate(["alpha", "beta", "gamma"]):
        add_random_esm(hub, name, tiny_bert, seed=i)
    return hub


@pytest.fixture
def target_csv(tmp_path, toy_task):
    path = tmp_path / "target.csv"
    pd.DataFrame({"review": toy_task.texts, "stars": toy_task.labels}).to_csv(path, index=False)
    return path


def run(*args: str) -> object:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result


def test_rank_formats(cli_hub, target_csv, tmp_path):
    base = ["rank", target_csv, "--hub", cli_hub.root, "--text-column", "review",
            "--label-column", "stars", "-q"]
    table = run(*base, "--top", "2")
    assert table.exit_code == 0, table.output
    assert "esm-logme: 3 sources ranked for target" in table.output
    assert len([line for line in table.output.splitlines() if line.strip()[:1].isdigit()]) == 2
    as_json = run(*base, "--format", "json", "--output", tmp_path / "out.csv")
    data = json.loads(as_json.stdout)
    assert [s["rank"] for s in data["sources"]] == [1, 2, 3]
    frame = pd.read_csv(tmp_path / "out.csv")  # the sources, then the reference row
    assert frame["esm_id"].tolist()[:-1] == [s["esm_id"] for s in data["sources"]]
    assert frame["task_name"].iloc[-1] == "(no intermediate step)"
    assert frame["score"].iloc[-1] == pytest.approx(data["reference"]["score"])
    assert "(no intermediate step)" in table.output
    as_csv = run(*base, "--format", "csv")
    assert as_csv.stdout.splitlines()[0].startswith("rank,esm_id,task_name,score")


def test_a_ranking_without_stability_says_why_and_how_to_get_it(cli_hub, target_csv):
    base = ["rank", target_csv, "--hub", cli_hub.root, "--text-column", "review",
            "--label-column", "stars", "-q"]
    default = run(*base)
    assert "Stability over 100 resamples" in default.output
    assert "not computed" not in default.output
    other = run(*base, "--method", "esm-hscore", "--resamples", "7")
    assert other.exit_code == 0, other.output
    assert ("Stability: not computed for esm-hscore by default (only esm-logme has a fast "
            "path); --stability on re-runs it on 7 half-samples") in other.output
    assert "not computed" not in run(*base, "--method", "esm-hscore", "--stability",
                                     "off").output


def test_rank_errors_are_one_line_with_exit_code_1(cli_hub, tmp_path):
    missing = run("rank", "../shared/datasets/nope", "--hub", cli_hub.root)
    assert missing.exit_code == 1
    assert "not found" in missing.output and "my_data.csv" in missing.output
    assert "Traceback" not in missing.output
    (tmp_path / "x.csv").write_text("text,label\ngood,1\nbad,0\n")
    no_hub = run("rank", tmp_path / "x.csv", "--hub", tmp_path / "none")
    assert no_hub.exit_code == 1 and "no hub at" in no_hub.output
    bad_option = run("rank", "x.csv", "--format", "xml")
    assert bad_option.exit_code == 2


def test_hub_commands(cli_hub):
    listed = run("hub", "list", "--hub", cli_hub.root)
    assert listed.exit_code == 0 and "3 ESMs" in listed.output
    filtered = run("hub", "list", "--hub", cli_hub.root, "--name", "a*", "--format", "json")
    assert [e["id"] for e in json.loads(filtered.output)] == ["alpha"]
    shown = json.loads(run("hub", "show", "beta", "--hub", cli_hub.root).output)
    assert shown["weight_shape"] == [32, 32] and shown["config"]["task_id"] == "beta"
    assert run("hub", "verify", "--hub", cli_hub.root).exit_code == 0
    (cli_hub.esm_dir / "beta" / "model.safetensors").write_bytes(b"junk")
    broken = run("hub", "verify", "--hub", cli_hub.root)
    assert broken.exit_code == 1 and "problem: beta" in broken.output
    assert run("hub", "remove", "beta", "--hub", cli_hub.root).exit_code == 0
    assert run("hub", "rebuild-catalog", "--hub", cli_hub.root).output.startswith("catalogued 2")


def test_build_command(tiny_bert, toy_pool, tmp_path):
    hub = tmp_path / "built"
    args = ["build", "--pool", toy_pool, "--hub", hub, "--model", tiny_bert, "--num-examples",
            "30", "--held-out", "10", "--epochs", "1", "-q", "--report", tmp_path / "r.json"]
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert "built 3, skipped 0, failed 0" in result.output
    assert json.loads((tmp_path / "r.json").read_text())["built"] == 3
    again = run(*args)
    assert "built 0, skipped 3" in again.output
