from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from stepstone.errors import ESMExistsError, ESMNotFoundError, HubError
from stepstone.hub import Hub
from tests.esm.test_io import make_esm


def _esm(name: str, *, task_type: str = "classification", n: int = 100, seed: int = 0,
         base: str = "tiny/model"):
    esm = make_esm(seed=seed, stepstone={"task_name": name, "task_type": task_type,
                                         "fit": {"cosine": 0.9, "mse": 0.01}})
    esm.config.task_id = name
    esm.config.num_examples = n
    esm.config.base_model_name = base
    return esm


@pytest.fixture
def hub(tmp_path):
    store = Hub(tmp_path / "hub", create=True)
    store.add(_esm("sst2", n=4000), stats={"text_mean": np.ones(6, np.float32)})
    store.add(_esm("stsb", task_type="regression", n=2000, seed=1))
    store.add(_esm("tweet_irony", n=500, seed=2, base="other/model"))
    return store


def test_add_list_get(hub):
    assert len(hub) == 3 and "sst2" in hub and "nope" not in hub
    assert [e.id for e in hub.entries()] == ["sst2", "stsb", "tweet_irony"]
    entry = hub.entry("stsb")
    assert entry.task_type == "regression" and entry.num_examples == 2000
    assert entry.fit_cosine == 0.9 and entry.dim == 6
    esm = hub.get("sst2")
    np.testing.assert_allclose(esm.weight, _esm("sst2").weight, atol=1e-3)
    assert hub.stats("sst2")["text_mean"].tolist() == [1.0] * 6 and hub.stats("stsb") == {}


def test_filters(hub):
    ids = lambda **kw: [e.id for e in hub.entries(**kw)]  # noqa: E731
    assert ids(task_type="regression") == ["stsb"]
    assert ids(base_model="other/model") == ["tweet_irony"]
    assert ids(min_examples=1000) == ["sst2", "stsb"]
    assert ids(max_examples=1000) == ["tweet_irony"]
    assert ids(name="s*") == ["sst2", "stsb"]
    assert ids(name="tweet_*", base_model="other/model") == ["tweet_irony"]


def test_duplicates_and_removal(hub):
    with pytest.raises(ESMExistsError, match="overwrite"):
        hub.add(_esm("sst2"))
    hub.add(_esm("sst2", n=10), overwrite=True)
    assert hub.entry("sst2").num_examples == 10
    hub.remove("sst2")
    assert "sst2" not in hub and len(hub) == 2
    with pytest.raises(ESMNotFoundError, match="no ESM 'sst2'"):
        hub.get("sst2")
    with pytest.raises(HubError, match="invalid ESM id"):
        hub.add(_esm("x"), esm_id="../escape")


def test_catalog_is_rebuilt_from_the_folders(hub, tmp_path):
    (hub.root / "catalog.sqlite").unlink()
    reopened = Hub(hub.root)
    assert [e.id for e in reopened.entries()] == ["sst2", "stsb", "tweet_irony"]
    # a folder copied in by hand, and one deleted by hand, are noticed on open
    shutil.copytree(hub.esm_dir / "sst2", hub.esm_dir / "sst2_copy")
    shutil.rmtree(hub.esm_dir / "stsb")
    again = Hub(hub.root)
    assert [e.id for e in again.entries()] == ["sst2", "sst2_copy", "tweet_irony"]
    assert again.rebuild_catalog() == 3


def test_missing_hub_is_a_clear_error(tmp_path):
    with pytest.raises(HubError, match="stepstone build"):
        Hub(tmp_path / "absent")


def test_verify_reports_every_problem(hub):
    assert hub.verify().ok and hub.verify().checked == 3
    (hub.esm_dir / "stsb" / "model.safetensors").write_bytes(b"garbage")
    (hub.esm_dir / ".tmp-half-written-123").mkdir()
    (hub.esm_dir / "incomplete").mkdir()
    config = hub.esm_dir / "tweet_irony" / "config.json"
    config.write_text(json.dumps({"task_id": "x"}))  # invalid: no base_model_name
    report = Hub(hub.root).verify()
    text = "\n".join(report.problems)
    assert not report.ok
    assert "stsb" in text and "safetensors" in text
    assert ".tmp-half-written-123: leftover temporary folder" in text
    assert "incomplete: incomplete ESM folder" in text
    assert "tweet_irony" in text and "base_model_name" in text
    repaired = Hub(hub.root).verify(repair=True)
    assert not (hub.esm_dir / ".tmp-half-written-123").exists()
    assert any("removed" in line for line in repaired.repaired)


def test_broken_config_is_remembered_for_ranking(hub):
    (hub.esm_dir / "stsb" / "config.json").write_text("{oops")
    reopened = Hub(hub.root)
    assert "stsb" in reopened.broken and "stsb" not in reopened
    (hub.esm_dir / "stsb" / "config.json").write_text(
        json.dumps(_esm("stsb").config.to_dict()))
    reopened.sync()
    assert "stsb" in reopened and "stsb" not in reopened.broken


def test_read_only_hub_keeps_its_catalog_in_memory(hub, monkeypatch):
    import stepstone.hub.hub as hub_module

    (hub.root / "catalog.sqlite").unlink()
    monkeypatch.setattr(hub_module.os, "access", lambda path, mode: False)
    store = Hub(hub.root)
    assert len(store) == 3 and store.catalog.location == ":memory:"
    assert not (hub.root / "catalog.sqlite").exists()
