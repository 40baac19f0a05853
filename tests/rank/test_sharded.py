"""Sharded scoring equals local scoring for every registered method, on a hub of more than one
shard (312 ESMs, shards of 256): the per-source methods merge, the pool-normalised ones are
pooled on the driver, fusions and transfer-graph run their components sharded, taskemb runs
whole. Every method is checked with an executor that runs the shards here, last one first;
one method of each kind of execution, and a whole ranking, with Ray."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest

from stepstone.encode import Encoder
from stepstone.engines import Outcome
from stepstone.hub import Hub
from stepstone.hub.packed import BLOCK_SIZE
from stepstone.rank import RankContext, rank_sources
from stepstone.rank.advice import ADVICE_FILE, AdviceModel
from stepstone.rank.registry import Execution, families, get_method, method_infos
from stepstone.rank.sharded import run_method

COPIES = 104  # of each of the built hub's three ESMs: 312 in all
PIVOTS = ("alpha-001", "beta-001", "gamma-001")  # measured targets of the transfer table


class ReversedShards:
    """Runs the jobs in this process, the last first: shards come back out of order."""

    def run(self, jobs):
        for job in reversed(list(jobs)):
            try:
                yield Outcome(job=job, result=job.fn(*job.args, **job.kwargs))
            except Exception as err:  # noqa: BLE001  (handed back, as the engines do)
                yield Outcome(job=job, error=err)


@pytest.fixture(scope="module")
def big(built, tmp_path_factory, tiny_bert):
    """The built hub's ESMs, each copied 104 times with a little noise in the map and the mean
    embedding, under task names of their own, with the built domain statistics; a measured
    transfer table;
    kept models for the originals and for a copy in the second shard."""
    root = tmp_path_factory.mktemp("big")
    source = Hub(built.hub_root)
    hub = Hub(root / "hub", create=True)
    rng = np.random.default_rng(5)
    for entry in source.entries():
        esm, stats = source.get(entry.id), source.stats(entry.id)
        assert "domain_basis" in stats  # the build stores domain statistics
        for i in range(COPIES):
            name = f"{entry.id}-{i:03d}"
            config = dataclasses.replace(esm.config, stepstone={**esm.config.stepstone,
                                                                "task_name": name})
            noisy = dataclasses.replace(
                esm, config=config,
                weight=esm.weight + rng.normal(0, 0.02, esm.weight.shape).astype(np.float32))
            mean = stats["text_mean"] + rng.normal(0, 0.02, stats["text_mean"].shape)
            hub.add(noisy, esm_id=name, stats={**stats, "text_mean": mean.astype(np.float32)})
    cells = [{"target": p, "source": f"{s}-{i:03d}", "esm_id": f"{s}-{i:03d}",
              "gain": float(rng.normal())}
             for p in PIVOTS for s in ("alpha", "beta", "gamma") for i in range(0, COPIES, 7)
             if f"{s}-{i:03d}" != p]
    AdviceModel(method="esm-logme", features=[], mean=[], scale=[], coef=[], intercept=0.0,
                residuals=[0.0], base_model="x", embedding={}, esms={}, grid={},
                cells=cells).save(hub.root / ADVICE_FILE)
    _learned_selector(hub, tiny_bert)
    models = root / "models"
    models.mkdir()
    for esm_id in ("alpha", "beta", "gamma"):
        for copy in (f"{esm_id}-000", f"{esm_id}-{COPIES - 1:03d}"):  # both shards
            os.symlink(built.models / esm_id, models / copy)
    return hub, models


def _learned_selector(hub: Hub, base_model: str) -> None:
    """A selector with weight on every input method, so a shard-wise standardisation shows."""
    from stepstone.rank.advice import esm_digest
    from stepstone.rank.methods.learned import FEATURES, FILE_NAME, SelectorModel

    weights = np.linspace(-1.0, 1.0, len(FEATURES))
    SelectorModel(kind="ridge", features=list(FEATURES), mean=[0.0] * len(FEATURES),
                  scale=[1.0] * len(FEATURES), intercept=0.0, coef=weights.tolist(),
                  residuals=[0.0], base_model=base_model,
                  esms={e.id: esm_digest(e) for e in hub.entries()}).save(hub.root / FILE_NAME)


@pytest.fixture(scope="module")
def context(big, tiny_bert):
    hub, models = big
    entries = [e for e in hub.entries() if e.id not in PIVOTS]
    assert len(entries) > BLOCK_SIZE  # more than one shard

    def make(task) -> RankContext:
        ctx = RankContext(task=task, hub=hub, entries=entries, show_progress=False,
                          encoder=Encoder(tiny_bert, pooling="mean", show_progress=False),
                          models_dir=models)
        _ = ctx.features  # embedded once, here
        return ctx
    return make


def every_method() -> list[str]:
    return [i.name for i in method_infos()] + [f.example for f in families()] + [
        "fusion-z:esm-etran,size,textemb", "fusion:esm-ncti,logme"]


def assert_same(local, sharded):
    assert sharded.scores == local.scores  # exactly: same floats, so the same order
    assert sharded.skipped == local.skipped
    assert sharded.reference == local.reference


def test_every_kind_of_execution_is_covered():
    kinds = {get_method(m).execution for m in every_method()}
    assert kinds == set(Execution)


@pytest.mark.parametrize("method", every_method())
def test_sharded_scores_equal_local_ones(context, toy_task, method):
    ctx = context(toy_task)
    local = run_method(method, ctx)
    assert local.scores, local.skipped  # something to compare
    assert_same(local, run_method(method, ctx, executor=ReversedShards()))


try:
    import ray
except ImportError:
    ray = None


@pytest.fixture(scope="module")
def ray_cluster():
    if ray is None:
        pytest.skip("the ray extra is not installed (pip install 'stepstone[ray]')")
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    if started:
        ray.shutdown()


#: one method of each kind of execution (every method goes through the same sharding code in
#: test_sharded_scores_equal_local_ones; Ray adds the transport, and each method on 312 ESMs
#: twice costs a minute on a loaded two-core machine)
RAY_METHODS = ["esm-logme", "esm-etran", "logme", "fusion-z:esm-etran,size,textemb",
               "transfer-graph", "taskemb"]


def test_ray_methods_cover_every_kind_of_execution():
    assert {get_method(m).execution for m in RAY_METHODS} == set(Execution)


@pytest.mark.parametrize("method", RAY_METHODS)
def test_ray_scores_equal_local_ones(ray_cluster, context, toy_task, method):
    from stepstone.engines import get_executor

    ctx = context(toy_task)
    assert_same(run_method(method, ctx), run_method(method, ctx, executor=get_executor("ray")))


def test_ray_ranking_equals_the_local_ranking(ray_cluster, big, toy_task):
    hub, _ = big
    local = rank_sources(toy_task, hub=hub, method="esm-etran", show_progress=False)
    remote = rank_sources(toy_task, hub=hub, method="esm-etran", engine="ray",
                          show_progress=False)
    assert len(local) > BLOCK_SIZE
    assert [(s.esm_id, s.score) for s in remote] == [(s.esm_id, s.score) for s in local]


def test_a_method_that_needs_the_pool_must_say_how_it_is_pooled():
    from stepstone.rank.registry import MethodInfo, PoolUse

    with pytest.raises(ValueError, match="sharding breaks it"):
        MethodInfo("x", "pool-normalised without a combine step", lambda ctx: None,
                   pool=PoolUse.NORMALISED)



def test_a_worker_refuses_entries_made_for_another_embedding(big, toy_task, tiny_bert):
    """The driver keeps only compatible ESMs; a shard built otherwise fails in the worker
    (the same check as ranking's) instead of scoring a space the maps were not made for."""
    from stepstone.errors import HubError
    from stepstone.rank.sharded import Shard, score_shard

    hub, _ = big
    entries = tuple(hub.entries()[:3])
    shard = Shard(hub_root=str(hub.root), entries=entries, task=toy_task,
                  features=np.zeros((len(toy_task), 32), dtype=np.float32),
                  encoder={"model_name": tiny_bert, "pooling": "cls"}, models_dir=None, seed=0)
    with pytest.raises(HubError, match="3 ESM.*another embedding.*uses cls"):
        score_shard("esm-logme", shard)
