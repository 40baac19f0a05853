from __future__ import annotations

import fcntl
import json

import numpy as np
import pytest

from stepstone.data import load_task
from stepstone.finetune import FineTuneConfig
from stepstone.build import BuildConfig, build_hub, source_esm, split_source
from stepstone.build import pipeline as build_module
from stepstone.hub import Hub


def _config(tiny_bert: str, **kw) -> BuildConfig:
    return BuildConfig(model_name=tiny_bert, pooling="mean", num_examples=40, held_out=10,
                       finetune=FineTuneConfig(epochs=1, batch_size=8, learning_rate=1e-3), **kw)


def test_build_adds_one_esm_per_source(tiny_bert, toy_pool, tmp_path):
    hub = Hub(tmp_path / "hub", create=True)
    models = tmp_path / "models"
    report = build_hub([toy_pool / "alpha", toy_pool / "gamma"], hub,
                       config=_config(tiny_bert), models_dir=models)
    assert [r.status for r in report.results] == ["built", "built"]
    assert [e.id for e in hub.entries()] == ["alpha", "gamma"]
    entry = hub.entry("gamma")
    assert entry.task_type == "regression" and entry.num_examples == 40
    block = entry.config["stepstone"]
    assert block["embedding"]["pooling"] == "mean" and block["embedding"]["max_length"] == 128
    fit = block["fit"]
    assert fit["method"] == "closed-form" and fit["num_pairs"] == 10
    assert 0 < fit["cosine"] <= 1 and fit["mse"] >= 0 and "stored_cosine" in fit
    assert entry.config["lm_num_epochs"] == 1 and entry.config["esm_architecture"] == "linear"
    stats = hub.stats("alpha")
    assert stats["text_mean"].shape == (32,) and stats["token_bitmap"].dtype == np.uint8
    assert (models / "alpha" / "tuned.json").is_file()
    assert hub.verify().ok


def test_rebuild_skips_finished_sources_and_reuses_kept_models(tiny_bert, toy_pool, tmp_path,
                                                               monkeypatch):
    hub = Hub(tmp_path / "hub", create=True)
    models = tmp_path / "models"
    config = _config(tiny_bert)
    build_hub([toy_pool / "alpha"], hub, config=config, models_dir=models)

    def no_fine_tuning(*args, **kwargs):
        raise AssertionError("fine-tuned again")

    monkeypatch.setattr(source_esm, "fine_tune", no_fine_tuning)
    again = build_hub([toy_pool / "alpha"], hub, config=config, models_dir=models)
    assert again.results[0].status == "skipped"
    # an interrupted build (ESM missing, tuned model kept) resumes without fine-tuning
    hub.remove("alpha")
    resumed = build_hub([toy_pool / "alpha"], hub, config=config, models_dir=models)
    assert resumed.results[0].status == "built" and "alpha" in hub


def test_a_failing_source_does_not_stop_the_build(tiny_bert, toy_pool, tmp_path):
    broken = tmp_path / "broken.csv"
    broken.write_text("text,label\na,1\n")
    hub = Hub(tmp_path / "hub", create=True)
    report = build_hub([broken, toy_pool / "beta"], hub, config=_config(tiny_bert))
    assert [r.status for r in report.results] == ["failed", "built"]
    assert "broken.csv" in report.results[0].message
    assert json.loads(json.dumps(report.to_dict()))["failed"] == 1


def test_split_source_is_disjoint_and_seeded(toy_pool):
    task = load_task(toy_pool / "alpha")
    train, held = split_source(task, num_examples=30, held_out=10, seed=1)
    assert len(train) == 30 and len(held) == 10
    assert not set(train.texts) & set(held.texts)
    again, _ = split_source(task, num_examples=30, held_out=10, seed=1)
    assert again.texts == train.texts and train.origin.num_examples == 30
    small_train, small_held = split_source(task, num_examples=None, held_out=500, seed=1)
    assert len(small_held) == len(task) // 5 and len(small_train) == len(task) - len(small_held)


def test_locked_source_is_left_to_the_other_build(tiny_bert, toy_pool, tmp_path):
    hub = Hub(tmp_path / "hub", create=True)
    # another process's lock: flock on a separate open file (the hub's locks are re-entrant
    # within one thread, so build_module.hub_lock here would not stand for another build)
    (hub.root / "locks").mkdir(exist_ok=True)
    with open(hub.root / "locks" / "alpha.lock", "a+") as other:
        fcntl.flock(other, fcntl.LOCK_EX)
        report = build_hub([toy_pool / "alpha"], hub, config=_config(tiny_bert))
        with build_module.hub_lock(hub, "alpha") as acquired:
            assert not acquired
    assert report.results[0].status == "locked" and "alpha" not in hub
    with build_module.hub_lock(hub, "alpha") as acquired:
        assert acquired  # released with the other process's file


@pytest.mark.parametrize("fit", ["sgd"])
def test_sgd_fit_records_hfselect_fields(tiny_bert, toy_pool, tmp_path, fit):
    from stepstone.esm import FitMethod, SGDConfig

    hub = Hub(tmp_path / "hub", create=True)
    config = _config(tiny_bert, fit=FitMethod.parse(fit), sgd=SGDConfig(epochs=2))
    build_hub([toy_pool / "beta"], hub, config=config)
    cfg = hub.entry("beta").config
    assert cfg["esm_optimizer"] == "AdamW" and cfg["esm_learning_rate"] == 1e-2
    assert cfg["esm_num_epochs"] == 2 and cfg["stepstone"]["fit"]["method"] == "sgd"
