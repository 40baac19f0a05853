"""The local executor, and the same results from the Ray engine (skipped without Ray)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stepstone.engines import Engine, Job, LocalExecutor, get_executor
from stepstone.errors import InvalidOptionError
from stepstone.esm import ESMConfig
from stepstone.finetune import FineTuneConfig
from stepstone.build import BuildConfig, build_hub
from stepstone.hub import Hub
from stepstone.rank import rank_sources
from tests.engines.jobs import JobFailed, square


def test_local_executor_runs_lazily_in_order_and_reports_errors():
    pulled = []

    def jobs():
        for x in (1, -2, 3):
            pulled.append(x)
            yield Job(key=str(x), fn=square, args=(x,))

    outcomes = LocalExecutor().run(jobs())
    first = next(outcomes)
    assert first.result == 1 and pulled == [1]  # the next job is not created yet
    rest = list(outcomes)
    assert isinstance(rest[0].error, JobFailed) and rest[1].result == 9
    assert get_executor("local").name is Engine.LOCAL
    with pytest.raises(InvalidOptionError, match="local, ray"):
        get_executor("spark")


# --- Ray -------------------------------------------------------------------------------------

try:
    import ray
except ImportError:  # only the Ray tests below need it; the local executor test runs anyway
    ray = None

requires_ray = pytest.mark.skipif(ray is None, reason="the ray extra is not installed "
                                                      "(pip install 'stepstone[ray]')")


@pytest.fixture(scope="session")
def ray_cluster():
    """One local Ray for the whole test run."""
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@requires_ray
def test_ray_executor_runs_jobs_and_hands_back_exceptions(ray_cluster):
    executor = get_executor("ray")
    outcomes = {o.job.key: o for o in executor.run(
        Job(key=str(x), fn=square, args=(x,), fresh=x == 3) for x in (1, -2, 3))}
    assert outcomes["1"].result == 1 and outcomes["3"].result == 9
    assert isinstance(outcomes["-2"].error, JobFailed)  # the job's own exception type
    assert "negative -2" in str(outcomes["-2"].error)


@requires_ray
def test_ray_build_equals_local_build(ray_cluster, tiny_bert, toy_pool, tmp_path):
    # one thread here, as in the one-CPU Ray workers: the same arithmetic, the same weights
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        config = BuildConfig(model_name=tiny_bert, pooling="mean", num_examples=30, held_out=10,
                             finetune=FineTuneConfig(epochs=1, batch_size=8, learning_rate=1e-3))
        sources = [toy_pool / "alpha", toy_pool / "gamma"]
        local = Hub(tmp_path / "local", create=True)
        build_hub(sources, local, config=config, models_dir=tmp_path / "m-local")
        remote = Hub(tmp_path / "ray", create=True)
        report = build_hub(sources, remote, config=config, models_dir=tmp_path / "m-ray",
                           engine="ray")
    finally:
        torch.set_num_threads(threads)
    assert [r.status for r in report.results] == ["built", "built"]
    assert [e.id for e in remote.entries()] == [e.id for e in local.entries()]
    for esm_id in ("alpha", "gamma"):
        a, b = local.get(esm_id), remote.get(esm_id)
        np.testing.assert_array_equal(a.weight, b.weight)
        np.testing.assert_array_equal(a.bias, b.bias)
        np.testing.assert_array_equal(local.stats(esm_id)["text_mean"],
                                      remote.stats(esm_id)["text_mean"])
    assert (tmp_path / "m-ray" / "alpha" / "tuned.json").is_file()
    assert remote.verify().ok


def _synthetic_hub(root, model: str, *, count: int, dim: int = 32) -> Hub:
    """``count`` random near-identity ESMs in hfselect's layout, written directly (fast, no
    fsync: these files are test data, not a hub being built)."""
    import json

    from safetensors.numpy import save_file

    rng = np.random.default_rng(0)
    embedding = {"model_name": model, "pooling": "mean", "max_length": 128,
                 "pair_mode": "tokenizer"}
    for i in range(count):
        folder = root / "esms" / f"s{i:05d}"
        folder.mkdir(parents=True)
        config = ESMConfig(base_model_name=model, task_id=f"s{i:05d}", num_examples=100 + i,
                           esm_embedding_dim=dim,
                           stepstone={"task_name": f"s{i:05d}", "task_type": "classification",
                                      "embedding": embedding})
        (folder / "config.json").write_text(json.dumps(config.to_dict()))
        weight = np.eye(dim) + 0.3 * rng.standard_normal((dim, dim))
        save_file({"model.weight": weight.astype(np.float16),
                   "model.bias": (0.3 * rng.standard_normal(dim)).astype(np.float16)},
                  str(folder / "model.safetensors"))
    return Hub(root)


@requires_ray
def test_ray_rank_equals_local_rank_exactly(ray_cluster, tiny_bert, toy_task, tmp_path):
    hub = _synthetic_hub(tmp_path / "hub", tiny_bert, count=2000)
    local = rank_sources(toy_task, hub=hub)
    sharded = rank_sources(toy_task, hub=hub, engine="ray")
    assert len(local) == 2000
    assert [(s.esm_id, s.score) for s in sharded] == [(s.esm_id, s.score) for s in local]
    assert sharded.skipped == local.skipped
    # a fusion is fused on the driver from components scored in shards
    fused_local = rank_sources(toy_task, hub=hub, method="fusion-z:esm-logme,size")
    fused_ray = rank_sources(toy_task, hub=hub, method="fusion-z:esm-logme,size", engine="ray")
    assert fused_ray.scores() == fused_local.scores()
