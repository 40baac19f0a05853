"""Pulling ESMs from and pushing them to the Hugging Face Hub, without a network: a local folder
laid out like the HF cache stands in for what huggingface_hub downloaded, and the Hub API's
listing, repo creation and upload are replaced by recorders."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from huggingface_hub import HfApi, ModelCard
from huggingface_hub.hf_api import ModelInfo
from safetensors.numpy import load_file, save_file

from stepstone.cli import main
from stepstone.errors import HubError
from stepstone.esm import load_esm
from stepstone.hub import Hub, find_esm_repos, pull_esms, push_esm
from stepstone.rank import rank_sources
from tests.esm.test_hfselect_interop import BASE, BASE_ST, FIXTURES
from tests.hfcache import cache_folder

REPOS = {"someone/ESM_toy-reviews": "esm-current", "someone/ESM_toy-legacy": "esm-legacy",
         "other/ESM_toy-st": "esm-sentence-transformers"}


@pytest.fixture
def hf_cache(tmp_path, monkeypatch):
    """The HF cache after downloading: the fixture BERT under both names, hfselect's ESM repos,
    one broken ESM repo (NaN weights) and a dataset-less model repo."""
    cache = tmp_path / "hf-cache"
    for name in (BASE, BASE_ST):
        cache_folder(cache, name, FIXTURES / "tiny-bert")
    revisions = {repo: cache_folder(cache, repo, FIXTURES / folder)
                 for repo, folder in REPOS.items()}
    broken = tmp_path / "broken"
    shutil.copytree(FIXTURES / "esm-current", broken)
    tensors = load_file(str(broken / "model.safetensors"))
    tensors["model.weight"][0, 0] = np.nan
    save_file(tensors, str(broken / "model.safetensors"))
    revisions["mallory/ESM_nan"] = cache_folder(cache, "mallory/ESM_nan", broken)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    return revisions


def test_offline_pull_uses_the_cache_says_so_and_records_provenance(hf_cache, tmp_path):
    hub = Hub(tmp_path / "hub", create=True)
    report = pull_esms(hub, BASE)
    assert report.offline and "HF cache" in report.source and "not searched" in report.source
    status = {r.repo_id: r.status for r in report.results}
    assert status == {"someone/ESM_toy-reviews": "added", "someone/ESM_toy-legacy": "added",
                      "mallory/ESM_nan": "failed"}  # the other base model's ESM is not listed
    failed = next(r for r in report.results if r.status == "failed")
    assert "NaN/inf" in failed.message and "\n" not in failed.message
    assert [e.id for e in hub.entries()] == ["someone--ESM_toy-legacy", "someone--ESM_toy-reviews"]
    origin = hub.entry("someone--ESM_toy-legacy").config["stepstone"]["origin"]
    assert origin["repo_id"] == "someone/ESM_toy-legacy"
    assert origin["revision"] == hf_cache["someone/ESM_toy-legacy"]
    assert origin["layout"] == "legacy 0.1.0" and len(origin["sha256"]["model.safetensors"]) == 64
    # registered in the current layout, same map, model card kept
    legacy = hub.get("someone--ESM_toy-legacy")
    assert legacy.config.version != "0.1.0"
    x = np.random.default_rng(0).standard_normal((4, 16))
    np.testing.assert_allclose(legacy(x), load_esm(FIXTURES / "esm-legacy")(x), rtol=1e-6)
    assert "embedding_space_map" in (hub.esm_dir / "someone--ESM_toy-legacy" /
                                     "README.md").read_text()
    assert hub.verify().ok


def test_pull_again_and_after_a_new_revision(hf_cache, tmp_path):
    hub = Hub(tmp_path / "hub", create=True)
    pull_esms(hub, BASE, repo_ids=["someone/ESM_toy-reviews"])
    again = pull_esms(hub, BASE, repo_ids=["someone/ESM_toy-reviews"])
    assert [r.status for r in again.results] == ["unchanged"]
    # the repo gets a new commit (other weights): pulling updates the ESM
    folder = tmp_path / "v2"
    shutil.copytree(FIXTURES / "esm-current", folder)
    tensors = load_file(str(folder / "model.safetensors"))
    tensors["model.bias"] += 1.0
    save_file(tensors, str(folder / "model.safetensors"))
    revision = cache_folder(Path(hf_cache_dir()), "someone/ESM_toy-reviews", folder)
    updated = pull_esms(hub, BASE, repo_ids=["someone/ESM_toy-reviews"])
    assert [(r.status, r.revision) for r in updated.results] == [("updated", revision)]
    np.testing.assert_allclose(hub.get("someone--ESM_toy-reviews").bias, tensors["model.bias"])
    # a repo named explicitly is pulled even when made for another base model, with a note
    foreign = pull_esms(hub, BASE, repo_ids=["other/ESM_toy-st"]).results[0]
    assert foreign.status == "added" and f"made for base model '{BASE_ST}'" in foreign.message


def hf_cache_dir() -> str:
    import os

    return os.environ["HF_HUB_CACHE"]


def test_offline_filters_match_the_cached_model_cards(hf_cache):
    found = find_esm_repos(BASE, filters=["dataset:stepstone-test/toy-legacy"])
    assert [r.repo_id for r in found] == ["someone/ESM_toy-legacy"]
    assert find_esm_repos(BASE, filters=["dataset:imdb"]) == []
    assert [r.repo_id for r in find_esm_repos(BASE_ST, filters=[f"BaseLM:{BASE_ST}"])] == [
        "other/ESM_toy-st"]
    assert [r.repo_id for r in find_esm_repos(BASE, author="someone", limit=1)] == [
        "someone/ESM_toy-legacy"]


def test_online_pull_searches_hfselects_tags_and_downloads_with_huggingface_hub(
        hf_cache, tmp_path, monkeypatch):
    calls = []

    def list_models(self, **kwargs):
        calls.append(kwargs)
        return [ModelInfo(id=repo, sha=hf_cache[repo], tags=["embedding_space_map"])
                for repo in ("someone/ESM_toy-reviews", "someone/ESM_toy-legacy")]

    monkeypatch.setattr(HfApi, "list_models", list_models)
    monkeypatch.setattr(HfApi, "model_info", lambda self, name, **kw: ModelInfo(id=name))
    hub = Hub(tmp_path / "hub", create=True)
    report = pull_esms(hub, BASE, filters=["language:en"], offline=False)
    assert calls[0]["filter"] == ["embedding_space_map", f"base_model:{BASE}", "language:en"]
    assert not report.offline and report.source == "the Hugging Face Hub"
    assert [r.status for r in report.results] == ["added", "added"]


def test_pulled_hfselect_esms_rank_like_hfselect(hf_cache, tmp_path):
    from safetensors.numpy import load_file as load

    expected = load(str(FIXTURES / "expected.safetensors"))
    inputs = json.loads((FIXTURES / "inputs.json").read_text(encoding="utf-8"))
    hub = Hub(tmp_path / "hub", create=True)
    pull_esms(hub, BASE)
    target = pd.DataFrame({"text": inputs["texts"], "label": inputs["labels"]})
    ranking = rank_sources(target, hub=hub)
    assert {s.esm_id for s in ranking.skipped} == set()
    ids = {"esm-current": "someone--ESM_toy-reviews", "esm-legacy": "someone--ESM_toy-legacy"}
    for name, theirs in zip(inputs["scored_esms"], expected["scores/pooler"]):
        assert ranking.scores()[ids[name]] == pytest.approx(theirs, rel=1e-5)


@pytest.fixture
def uploads(monkeypatch, tmp_path):
    """Replace the Hub's repo creation and upload with recorders (files copied aside)."""
    done = {}

    def create_repo(self, repo_id, **kwargs):
        done["create"] = (repo_id, kwargs)
        return f"https://huggingface.co/{repo_id}"

    def upload_folder(self, *, repo_id, folder_path, **kwargs):
        target = tmp_path / "uploaded" / repo_id
        shutil.copytree(folder_path, target)
        done["upload"] = (repo_id, target, kwargs)

    monkeypatch.setattr(HfApi, "create_repo", create_repo)
    monkeypatch.setattr(HfApi, "upload_folder", upload_folder)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    return done


def test_push_publishes_what_hfselect_finds_and_pull_gets_it_back(hf_cache, uploads, tmp_path,
                                                                 monkeypatch):
    hub = Hub(tmp_path / "hub", create=True)
    pull_esms(hub, BASE, repo_ids=["someone/ESM_toy-legacy"], offline=True)
    url = push_esm(hub, "someone--ESM_toy-legacy", "me/ESM_toy", private=True)
    assert url == "https://huggingface.co/me/ESM_toy"
    assert uploads["create"] == ("me/ESM_toy", {"private": True, "exist_ok": True,
                                                "repo_type": "model"})
    _, folder, _ = uploads["upload"]
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json",
                                                        "model.safetensors"]
    card = ModelCard.load(folder / "README.md").data
    assert card.base_model == BASE and card.license == "apache-2.0"
    assert card.datasets == ["stepstone-test/toy-legacy"]
    assert {"embedding_space_map", f"BaseLM:{BASE}"} <= set(card.tags)
    config = json.loads((folder / "config.json").read_text())
    assert config["version"] != "0.1.0" and config["esm_architecture"] == "linear"
    assert set(load_file(str(folder / "model.safetensors"))) == {"model.weight", "model.bias"}
    # what a user of the Hub downloads comes back as the same map
    cache_folder(Path(hf_cache_dir()), "me/ESM_toy", folder)
    other = Hub(tmp_path / "other", create=True)
    pull_esms(other, BASE, repo_ids=["me/ESM_toy"], offline=True)
    x = np.random.default_rng(1).standard_normal((3, 16))
    np.testing.assert_allclose(other.get("me--ESM_toy")(x), hub.get("someone--ESM_toy-legacy")(x))


def test_push_refuses_what_hfselect_users_could_not_use(uploads, tmp_path, tiny_bert,
                                                        monkeypatch):
    from tests.rank.test_rank import add_random_esm

    hub = Hub(tmp_path / "hub", create=True)
    add_random_esm(hub, "local", tiny_bert, seed=0)  # base model: a local folder
    with pytest.raises(HubError, match="not a Hugging Face Hub id.*--base-model-id"):
        push_esm(hub, "local", "me/ESM_local")
    url = push_esm(hub, "local", "me/ESM_local", base_model_id="me/tiny-bert")
    assert url.endswith("me/ESM_local") and "upload" in uploads
    card = (uploads["upload"][1] / "README.md").read_text()
    assert "pooling: mean, max length 128" in card and "cosine" in card
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(HubError, match="HF_HUB_OFFLINE is set: cannot push"):
        push_esm(hub, "local", "me/ESM_local", base_model_id="me/tiny-bert")


def test_cli_pull_export_and_push(hf_cache, uploads, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    runner = CliRunner()
    hub = tmp_path / "hub"
    pulled = runner.invoke(main, ["hub", "pull", "--hub", str(hub), "--base-model", BASE])
    assert pulled.exit_code == 1  # the broken repo is reported and fails the command
    assert "not searched" in pulled.output and "added  someone--ESM_toy-reviews" in pulled.output
    assert "failed  mallory--ESM_nan" in pulled.output and "NaN/inf" in pulled.output
    dry = runner.invoke(main, ["hub", "pull", "--hub", str(hub), "--base-model", BASE_ST,
                               "--dry-run", "--format", "json"])
    assert [r["status"] for r in json.loads(dry.output)["results"]] == ["found"]
    exported = runner.invoke(main, ["hub", "export", "someone--ESM_toy-reviews",
                                    str(tmp_path / "out"), "--hub", str(hub), "--task-id",
                                    "me/reviews"])
    assert exported.exit_code == 0, exported.output
    assert "- me/reviews" in (tmp_path / "out" / "README.md").read_text()
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    pushed = runner.invoke(main, ["hub", "push", "someone--ESM_toy-reviews", "--repo-id",
                                  "me/ESM_reviews", "--hub", str(hub)])
    assert pushed.exit_code == 0 and "pushed someone--ESM_toy-reviews" in pushed.output
