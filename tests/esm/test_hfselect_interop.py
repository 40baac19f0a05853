"""stepstone against files and numbers made by hfselect 0.2.1 (tests/fixtures/hfselect, made by
benchmarks/make_hfselect_fixtures.py; see its manifest.json for versions)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from safetensors.numpy import load_file

from stepstone.encode import Encoder
from stepstone.esm import load_esm, read_config
from stepstone.esm.embedding import expected_embedding
from stepstone.hub import Hub
from stepstone.rank import rank_sources
from stepstone.scores import logme
from tests.hfcache import cache_folder
from tests.helpers import REPO, benchmark_script

FIXTURES = REPO / "tests" / "fixtures" / "hfselect"
HFSELECT_ESMS = ["esm-current", "esm-legacy", "esm-sentence-transformers"]
STEPSTONE_ESMS = ["written-float16", "written-float32", "resaved-legacy"]
BASE, BASE_ST = "stepstone-test/tiny-bert", "sentence-transformers/stepstone-tiny-bert"


@pytest.fixture(scope="module")
def expected():
    return load_file(str(FIXTURES / "expected.safetensors"))


@pytest.fixture(scope="module")
def inputs():
    return json.loads((FIXTURES / "inputs.json").read_text(encoding="utf-8"))


@pytest.fixture
def hf_cache(tmp_path, monkeypatch):
    """The fixture BERT under both base model names in a local HF cache (offline)."""
    cache = tmp_path / "hf-cache"
    for name in (BASE, BASE_ST):
        cache_folder(cache, name, FIXTURES / "tiny-bert")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    return cache


@pytest.mark.parametrize("name", HFSELECT_ESMS)
def test_hfselect_esms_load_and_map_like_hfselect(name, expected):
    esm = load_esm(FIXTURES / name)
    assert esm.dim == 16 and esm.config.esm_architecture == "linear"
    np.testing.assert_allclose(esm(expected["x"]), expected[f"out/{name}"], rtol=1e-6,
                               atol=1e-6)
    assert esm.config.extra["transformers_version"]  # hfselect's extra keys are kept


def test_legacy_layout_is_recognised(expected):
    esm = load_esm(FIXTURES / "esm-legacy")
    assert esm.config.version == "0.1.0"
    assert set(load_file(str(FIXTURES / "esm-legacy" / "model.safetensors"))) == {
        "sequential.0.weight", "sequential.0.bias"}


@pytest.fixture(scope="module")
def rewritten(tmp_path_factory):
    """The ESMs of stepstone-written/, written again by today's save_esm with the recipe that
    wrote the committed ones (benchmarks/make_hfselect_fixtures.py), into a fresh folder."""
    module = benchmark_script("make_hfselect_fixtures")
    out = tmp_path_factory.mktemp("rewritten")
    shutil.copytree(FIXTURES / "esm-legacy", out / "esm-legacy")
    module.write_stepstone_esms(out)
    return out / "stepstone-written"


def affine(folder, x):
    """x Wᵀ + b straight from the file's tensors (no stepstone loader), in float64."""
    tensors = {k.split(".")[-1]: v.astype(np.float64)
               for k, v in load_file(str(folder / "model.safetensors")).items()}
    return x.astype(np.float64) @ tensors["weight"].T + tensors["bias"]


@pytest.mark.parametrize("name", STEPSTONE_ESMS)
def test_save_esm_writes_what_hfselect_read(name, rewritten, expected):
    """Today's writer produces the files hfselect was shown to read (same tensor names, dtypes,
    values, same hfselect config fields), and what hfselect computed from them is their map."""
    folder, committed_folder = rewritten / name, FIXTURES / "stepstone-written" / name
    fresh = load_file(str(folder / "model.safetensors"))
    committed = load_file(str(committed_folder / "model.safetensors"))
    assert fresh.keys() == committed.keys() == {"model.weight", "model.bias"}
    for key in committed:
        assert fresh[key].dtype == committed[key].dtype
        np.testing.assert_array_equal(fresh[key], committed[key])
    old, new = (json.loads((f / "config.json").read_text()) for f in (committed_folder, folder))
    hfselect_fields = ("base_model_name", "task_id", "esm_architecture", "esm_embedding_dim",
                       "version")
    assert {k: new[k] for k in hfselect_fields} == {k: old[k] for k in hfselect_fields}
    assert new["version"] != "0.1.0" and new["esm_architecture"] == "linear"
    # hfselect's ESM.from_pretrained(folder)(x), recorded, is the file's affine map, and
    # stepstone reads the file as the same map
    np.testing.assert_allclose(expected[f"out/{name}"], affine(folder, expected["x"]),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(load_esm(folder)(expected["x"]), expected[f"out/{name}"],
                               rtol=1e-6, atol=1e-6)


def test_legacy_esm_saved_again_keeps_its_map_for_hfselect(rewritten, expected):
    # stepstone re-saves hfselect's legacy ESM (sequential.0.* -> model.*) as the map hfselect
    # computed from the legacy file itself
    np.testing.assert_allclose(affine(rewritten / "resaved-legacy", expected["x"]),
                               expected["out/esm-legacy"], rtol=1e-5, atol=1e-5)
    assert set(load_file(str(rewritten / "resaved-legacy" / "model.safetensors"))) == {
        "model.weight", "model.bias"}


def test_hfselect_embedding_rule(hf_cache):
    """ESMs made by hfselect record no embedding: stepstone reconstructs hfselect's rule."""
    config = read_config(FIXTURES / "esm-current").to_dict()
    assert expected_embedding(BASE, config) == {
        "model_name": BASE, "pooling": "pooler", "max_length": 128, "pair_mode": "sep-string"}
    assert expected_embedding(BASE_ST, {})["pooling"] == "mean"
    recorded = read_config(FIXTURES / "stepstone-written" / "written-float32").to_dict()
    assert expected_embedding(BASE, recorded)["pair_mode"] == "tokenizer"


@pytest.mark.parametrize("base,rule", [(BASE, "pooler"), (BASE_ST, "mean")])
def test_target_embeddings_equal_hfselects(base, rule, hf_cache, expected, inputs):
    spec = expected_embedding(base, {})
    encoder = Encoder(base, pooling=spec["pooling"], max_length=spec["max_length"],
                      pair_mode=spec["pair_mode"], cache=False)
    texts, pairs = inputs["texts"], inputs["pairs"]
    # hfselect pads every batch to 128 tokens, stepstone to the longest example: the attention
    # mask makes that a float32 rounding difference
    np.testing.assert_allclose(encoder.embed(texts), expected[f"embed/{rule}/texts"],
                               atol=2e-5, rtol=1e-4)
    np.testing.assert_allclose(encoder.embed(texts, pairs), expected[f"embed/{rule}/pairs"],
                               atol=2e-5, rtol=1e-4)


def test_ranking_hfselect_esms_matches_hfselect(hf_cache, expected, inputs, tmp_path):
    hub = Hub(tmp_path / "hub", create=True)
    for name in inputs["scored_esms"]:
        shutil.copytree(FIXTURES / name, hub.esm_dir / name)
    hub.sync()
    import pandas as pd

    target = pd.DataFrame({"text": inputs["texts"], "label": inputs["labels"]})
    ranking = rank_sources(target, hub=hub)
    assert ranking.embedding == {"model_name": BASE, "pooling": "pooler", "max_length": 128,
                                 "pair_mode": "sep-string", "precision": "float32"}
    scores = ranking.scores()
    labels = np.asarray(inputs["labels"])
    for name, theirs in zip(inputs["scored_esms"], expected["scores/pooler"]):
        mapped = load_esm(FIXTURES / name)(expected["embed/pooler/texts"].astype(np.float64))
        # the whole pipeline (embedding rule, map, LogME) on hfselect's own embeddings
        assert scores[name] == pytest.approx(logme(mapped, labels), rel=1e-5)
        # and hfselect's own score (N > D and full rank: its LogME's rank bug does not bite;
        # it stops iterating at a 1% change of alpha/beta, stepstone at 0.1%)
        assert scores[name] == pytest.approx(theirs, rel=1e-5)
    order = np.argsort(-expected["scores/pooler"])
    assert [s.esm_id for s in ranking] == [inputs["scored_esms"][i] for i in order]
