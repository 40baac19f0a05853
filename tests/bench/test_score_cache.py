"""Scores kept between evaluations: used only for the same inputs, for per-source methods."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import numpy as np

from stepstone.bench import Grid, ResultsFile, evaluate_methods
from stepstone.bench import evaluate as evaluate_module
from stepstone.bench.results import BASELINE, Cell
from stepstone.bench.score_cache import ScoreCache, code_digest, is_independent
from stepstone.hub import Hub

GRID = Grid(name="toy", targets=("alpha", "gamma"), sources=("alpha", "beta", "gamma", "delta"),
            seeds=(1, 2))


def test_which_methods_are_kept():
    for method in ("esm-logme", "esm-ridge", "esm-knn", "esm-gbc", "textemb", "size",
                   "vocab-overlap", "domain-divergence", "esm-ped"):
        assert is_independent(method), method
    # normalised over the pool, drawn over the pool, combined or read from the ground truth
    for method in ("esm-etran", "esm-ncti", "random", "fusion:esm-logme,textemb",
                   "transfer-graph", "logme", "leep", "taskemb", "esm-unknown"):
        assert not is_independent(method), method


def _key(cache: ScoreCache, hub: Hub, **change) -> dict:
    args = dict(method="esm-logme", target="alpha", num_examples=500, seed=42, hub=hub,
                candidates=["beta", "gamma"], options={"models_dir": None})
    return cache.key(**{**args, **change})


def test_a_score_is_read_back_only_for_the_same_inputs(tmp_path, monkeypatch, caplog):
    cache, hub = ScoreCache(tmp_path / "cache"), Hub(tmp_path / "hub", create=True)
    key = _key(cache, hub)
    assert cache.get(key) is None
    cache.put(key, {"beta": 1.5, "gamma": -0.25})
    assert cache.get(_key(cache, hub)) == {"beta": 1.5, "gamma": -0.25}
    for change in ({"method": "esm-ridge"}, {"num_examples": 400}, {"seed": 1},
                   {"candidates": ["beta"]}, {"options": {"models_dir": "m"}}):
        assert cache.get(_key(cache, hub, **change)) is None, change
    # another version of an ESM (rebuilt: a new creation time), or other scoring code, is
    # another key
    def esm(created: str) -> SimpleNamespace:
        return SimpleNamespace(id="beta", base_model="m", config={"stepstone": {
            "created": created, "fit": {"cosine": 0.9}}})

    monkeypatch.setattr(Hub, "entries", lambda self, **kw: [esm("2026-11-01")])
    built = _key(cache, hub)
    cache.put(built, {"beta": 2.0})
    assert built["esms"]["beta"] is not None and built["esms"]["gamma"] is None
    assert cache.get(_key(cache, hub)) == {"beta": 2.0}
    monkeypatch.setattr(Hub, "entries", lambda self, **kw: [esm("2026-12-01")])
    assert cache.get(_key(cache, hub)) is None
    assert cache.get({**built, "code": "0" * 64}) is None and built["code"] == code_digest()
    # a damaged file is recomputed, with a warning
    monkeypatch.undo()
    path = cache._path(key)
    path.write_text("{not json")
    with caplog.at_level(logging.WARNING, logger="stepstone"):  # a CLI test may have raised it
        assert cache.get(key) is None
    assert "unreadable score cache file" in caplog.text


def _results(tmp_path, measured: list[tuple[str, str]]) -> ResultsFile:
    """Cells of ``measured`` (target, source) pairs and the baselines, two seeds each."""
    results = ResultsFile(tmp_path / "results")
    rng = np.random.default_rng(0)
    for target, source in [(t, BASELINE) for t in GRID.targets] + measured:
        for seed in GRID.seeds:
            results.append(Cell(target=target, source=source, seed=seed,
                                score=float(rng.uniform(0.5, 0.9)), metric="accuracy",
                                train_examples=10, eval_examples=10, seconds=1.0, device="cpu",
                                finished="2026-12-01T08:00:00+00:00"))
    return results


def test_evaluation_scores_every_candidate_once_and_reads_them_back(tmp_path, monkeypatch):
    monkeypatch.setenv("STEPSTONE_CACHE", str(tmp_path / "cache"))
    calls = []

    def fake_scores(target, method, *, ids, **_):  # a fixed score per source name
        calls.append((target, method, sorted(ids.values())))
        return {source: float(len(source) + (method == "textemb")) for source in ids.values()}

    monkeypatch.setattr(evaluate_module, "_live_scores", fake_scores)
    hub = Hub(tmp_path / "hub", create=True)
    results = _results(tmp_path, [("alpha", "beta"), ("alpha", "gamma"), ("gamma", "beta"),
                                  ("gamma", "alpha")])
    first = evaluate_methods(GRID, results.folder, hub=hub, methods=["esm-logme", "random"],
                             replicates=0)
    # esm-logme is scored on every candidate of the grid, measured or not; random only on the
    # measured sources (its draw depends on the pool), and again every time
    assert sorted(c for c in calls if c[1] == "esm-logme") == [
        ("alpha", "esm-logme", ["beta", "delta", "gamma"]),
        ("gamma", "esm-logme", ["alpha", "beta", "delta"])]
    assert ("alpha", "random", ["beta", "gamma"]) in calls
    # the evaluation only sees the measured sources
    assert first.predictions["esm-logme"]["alpha"] == {"beta": 4.0, "gamma": 5.0}
    assert first.predictions["esm-logme"]["gamma"] == {"beta": 4.0, "alpha": 5.0}

    calls.clear()
    results = _results(tmp_path / "more", [("alpha", "beta"), ("alpha", "gamma"),
                                           ("gamma", "beta"), ("gamma", "alpha"),
                                           ("gamma", "delta")])
    again = evaluate_methods(GRID, results.folder, hub=hub, methods=["esm-logme", "random"],
                             replicates=0)
    assert [c[1] for c in calls] == ["random", "random"]  # esm-logme came from the cache
    assert again.predictions["esm-logme"]["gamma"] == {"beta": 4.0, "alpha": 5.0, "delta": 5.0}
    fresh = evaluate_methods(GRID, results.folder, hub=hub, methods=["esm-logme"],
                             replicates=0, use_cache=False)
    assert [c[1] for c in calls[2:]] == ["esm-logme", "esm-logme"]
    columns = ["regret@1", "gain@1", "ndcg"]
    cached = again.per_target[again.per_target.method == "esm-logme"]
    np.testing.assert_allclose(cached[columns].to_numpy(float),
                               fresh.per_target[fresh.per_target.method == "esm-logme"]
                               [columns].to_numpy(float))


def test_nothing_is_kept_for_a_method_that_scored_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("STEPSTONE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(evaluate_module, "_live_scores", lambda *a, **kw: {})
    results = _results(tmp_path, [("alpha", "beta")])
    evaluate_methods(GRID, results.folder, hub=Hub(tmp_path / "hub", create=True),
                     methods=["esm-gbc"], replicates=0)
    assert not list((tmp_path / "cache").glob("evaluate/*.json"))


def test_cache_folder_follows_stepstone_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("STEPSTONE_CACHE", str(tmp_path / "c"))
    assert ScoreCache().folder == tmp_path / "c" / "evaluate"


def test_a_method_failing_on_every_target_is_reported_once(tmp_path, monkeypatch, caplog):
    from stepstone.errors import StepstoneError

    def no_models(target, **_):
        raise StepstoneError("'taskemb' needs the sources' fine-tuned models: pass --models")

    monkeypatch.setenv("STEPSTONE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(evaluate_module, "rank_sources", no_models)
    results = _results(tmp_path, [("alpha", "beta"), ("alpha", "gamma"), ("gamma", "beta"),
                                  ("gamma", "alpha")])
    with caplog.at_level(logging.ERROR, logger="stepstone"):
        evaluation = evaluate_methods(GRID, results.folder, hub=Hub(tmp_path / "hub", create=True),
                                      methods=["taskemb", "esm-logme"], replicates=0)
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 2, errors  # one per method, not one per (method, target)
    assert any("taskemb failed on 2 target(s) (alpha, gamma)" in e for e in errors)
    assert evaluation.failed["taskemb"].startswith("'taskemb' needs the sources'")
    assert set(evaluation.failed) == {"taskemb", "esm-logme"}
    assert set(evaluation.per_target.method) == {"no transfer", "random (expected)"}
    assert not list((tmp_path / "cache").glob("evaluate/*.json"))


def _disable_not_scoring_functions(monkeypatch) -> int:
    """Replace every function defined in a NOT_SCORING module, wherever a stepstone module
    holds it, by one that raises; the number replaced."""
    import importlib
    import sys
    import types
    from pathlib import Path

    import stepstone
    from stepstone.bench.score_cache import is_not_scoring

    root = Path(stepstone.__file__).resolve().parent
    excluded = set()
    for path in root.rglob("*.py"):
        relative = path.relative_to(root).as_posix()
        if is_not_scoring(relative):
            name = "stepstone." + relative[:-3].replace("/", ".").removesuffix(".__init__")
            importlib.import_module(name)  # loaded, so every holder of its functions is seen
            excluded.add(name)
    assert {"stepstone.rank.methods.learned", "stepstone.rank.render.table"} <= excluded

    def raiser(name):
        def disabled(*args, **kwargs):
            raise AssertionError(f"a kept score called {name}, which the code digest leaves out")
        return disabled

    replaced = 0
    for module in [m for n, m in sys.modules.items() if n.startswith("stepstone")]:
        for attr, value in list(vars(module).items()):
            if isinstance(value, types.FunctionType) and value.__module__ in excluded:
                monkeypatch.setattr(module, attr, raiser(f"{value.__module__}.{attr}"))
                replaced += 1
    return replaced


def test_kept_scores_never_use_the_modules_left_out_of_the_code_digest(built, tiny_bert,
                                                                       toy_task, monkeypatch):
    """The digest leaves NOT_SCORING out, so a kept method must score without them: every kept
    method gives the same scores with their functions disabled."""
    import stepstone.rank  # noqa: F401  (every module of the ranking loaded)
    from stepstone.encode import Encoder
    from stepstone.rank import RankContext
    from stepstone.rank.registry import method_infos

    hub = Hub(built.hub_root)
    kept = [info for info in method_infos() if is_independent(info.name)]
    assert len(kept) >= 10

    def scores(info):
        ctx = RankContext(task=toy_task, hub=hub, entries=hub.entries(), show_progress=False,
                          encoder=Encoder(tiny_bert, pooling="mean", show_progress=False))
        return info.run(ctx).scores

    before = {info.name: scores(info) for info in kept}
    assert _disable_not_scoring_functions(monkeypatch) > 20
    for info in kept:
        assert scores(info) == before[info.name], info.name
