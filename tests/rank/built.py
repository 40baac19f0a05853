"""A tiny hub built end to end (tiny BERT, three toy sources, kept tuned models, source
stats): what the ranking methods see in real use. Session-scoped: built once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import make_texts, write_pool_task


@dataclass
class Built:
    hub_root: Path
    models: Path
    pool: Path
    cache: Path


@pytest.fixture(scope="session")
def built(tmp_path_factory, tiny_bert) -> Built:
    from stepstone.finetune import FineTuneConfig
    from stepstone.build import BuildConfig, build_hub
    from stepstone.hub import Hub

    root = tmp_path_factory.mktemp("built")
    pool = root / "pool"
    rng = np.random.default_rng(11)
    for name, seed in (("alpha", 3), ("beta", 4)):
        labels = np.random.default_rng(seed).integers(0, 2 + seed - 3, 60)
        rows = [{"text": t, "label": int(y)} for t, y in zip(make_texts(labels, rng), labels)]
        write_pool_task(pool, name, rows, label_names=[str(i) for i in range(2 + seed - 3)])
    labels = rng.integers(0, 2, 60)
    rows = [{"text": t, "label": float(y * 2 + rng.normal(0, 0.2))}
            for t, y in zip(make_texts(labels, rng), labels)]
    write_pool_task(pool, "gamma", rows, task_type="regression")
    config = BuildConfig(model_name=tiny_bert, pooling="mean", num_examples=40, held_out=10,
                         finetune=FineTuneConfig(epochs=1, batch_size=8, learning_rate=1e-3))
    with pytest.MonkeyPatch.context() as patch:  # never the user's cache
        patch.setenv("STEPSTONE_CACHE", str(root / "build-cache"))
        patch.setenv("STEPSTONE_NO_PROGRESS", "1")
        hub = Hub(root / "hub", create=True)
        report = build_hub([pool / "alpha", pool / "beta", pool / "gamma"], hub, config=config,
                           models_dir=root / "models")
    assert [r.status for r in report.results] == ["built"] * 3, report.to_dict()
    return Built(hub_root=root / "hub", models=root / "models", pool=pool,
                 cache=root / "build-cache")
