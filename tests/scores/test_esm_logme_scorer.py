"""The local ESM-LogME engine: scores do not depend on the number of worker threads."""

from __future__ import annotations

import numpy as np
import pytest

from stepstone.esm import ESM, ESMConfig, save_esm
from stepstone.hub import Hub
from stepstone.hub.packed import BLOCK_SIZE, iter_hub_blocks
from stepstone.scores import TargetStats
from stepstone.scores.esm_logme import scorer as engine_module
from stepstone.scores.esm_logme.scorer import ESMLogMEScorer

D = 12
COUNT = 300  # more than one pack block, the last one partial


@pytest.fixture(scope="module")
def random_hub(tmp_path_factory) -> Hub:
    hub = Hub(tmp_path_factory.mktemp("engine") / "hub", create=True)
    rng = np.random.default_rng(0)
    for i in range(COUNT):
        config = ESMConfig(base_model_name="toy-model", task_id=f"esm{i:03d}", num_examples=100,
                           stepstone={"task_name": f"esm{i:03d}", "task_type": "classification",
                                      "embedding": {"model_name": "toy-model", "pooling": "mean",
                                                    "max_length": 128,
                                                    "pair_mode": "tokenizer"}})
        scale = rng.uniform(0.05, 0.6)
        weight = np.eye(D) + scale * rng.standard_normal((D, D))
        if i % 7 == 3:  # rank-deficient maps too
            weight[:, -2:] = 0.0
        esm = ESM(weight=weight.astype(np.float32),
                  bias=(scale * rng.standard_normal(D)).astype(np.float32), config=config)
        save_esm(esm, hub.esm_dir / config.task_id)  # folders first, one catalog sync after
    hub.sync()
    return hub


def _target(seed: int, classes: int) -> TargetStats:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, 150)
    features = rng.standard_normal((150, D)) * 0.7 + 0.4 * labels[:, None]
    return TargetStats.from_features(features, labels)


def _scores(hub: Hub, stats: TargetStats, **scorer) -> np.ndarray:
    skipped: dict[str, str] = {}
    blocks = iter_hub_blocks(hub, hub.entries(), dim=D, skipped=skipped, as_stored=True,
                             show_progress=False)
    out = [s for _, s in ESMLogMEScorer(stats, **scorer).score_blocks(blocks)]
    assert not skipped
    return np.concatenate(out)


@pytest.mark.parametrize("classes", [2, 5])
def test_one_two_and_three_workers_give_the_same_bits(random_hub, classes):
    stats = _target(classes, classes)
    serial = _scores(random_hub, stats, backend="lapack", workers=1)
    assert len(serial) == COUNT > BLOCK_SIZE
    for workers in (2, 3):
        threaded = _scores(random_hub, stats, backend="lapack", workers=workers)
        assert threaded.tobytes() == serial.tobytes(), f"{workers} workers"
    # and they are the scores: the reference eigen-solver path agrees to round-off
    reference = _scores(random_hub, stats, backend="reference")
    assert np.isfinite(serial).all()
    np.testing.assert_allclose(serial, reference, rtol=1e-9)


def test_a_failing_part_reaches_the_caller(random_hub, monkeypatch):
    stats = _target(1, 3)
    original = engine_module.tridiagonalize

    def failing(stats, maps):
        if len(maps) < engine_module.TASK_SIZE:  # the short last part of the partial block
            raise RuntimeError("worker failed")
        return original(stats, maps)

    monkeypatch.setattr(engine_module, "tridiagonalize", failing)
    with pytest.raises(RuntimeError, match="worker failed"):
        _scores(random_hub, stats, backend="lapack", workers=2)
