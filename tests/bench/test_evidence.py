"""gain@k from ground truth: by hand on one target, ties as a random order, and the evidence
file of an evaluation."""

from __future__ import annotations

import numpy as np
import pytest

from stepstone.bench.uncertainty import TargetTruth, batch_metrics, bootstrap


def gain_at_k(predicted, true, baseline, ks):
    metrics = batch_metrics(predicted, true, baseline)
    return {f"gain@{k}": metrics[f"gain@{min(k, 5)}"] for k in ks}


def test_gain_at_k_is_the_best_of_the_first_k_minus_the_baseline():
    predicted = np.array([3.0, 2.0, 1.0])
    true = np.array([[0.50, 0.70, 0.60]])
    gains = gain_at_k(predicted, true, np.array([0.55]), ks=(1, 2, 3, 5))
    assert gains["gain@1"][0] == pytest.approx(-5.0)
    assert gains["gain@2"][0] == pytest.approx(15.0)
    assert gains["gain@3"][0] == gains["gain@5"][0] == pytest.approx(15.0)  # k > S: all


def test_tied_scores_count_as_a_random_order():
    true = np.array([[0.50, 0.70, 0.60]])
    gains = gain_at_k(np.zeros(3), true, np.array([0.50]), ks=(1, 2))
    assert gains["gain@1"][0] == pytest.approx(100 * (0.60 - 0.50))  # the mean of the three
    # best of 2 of 3 at random: 0.70 in 2 of 3 pairs, else 0.60
    assert gains["gain@2"][0] == pytest.approx(100 * ((2 * 0.70 + 0.60) / 3 - 0.50))


def test_bootstrap_intervals_hold_the_mean_and_a_perfect_ranker_beats_random():
    rng = np.random.default_rng(0)
    truths, perfect = [], {}
    for t in range(8):
        seeds = 0.6 + rng.normal(0, 0.03, size=(10, 3))
        truths.append(TargetTruth(name=f"t{t}", sources=tuple(f"s{i}" for i in range(10)),
                                  seeds=seeds, baseline=0.6 + rng.normal(0, 0.01, 3)))
        perfect[f"t{t}"] = seeds.mean(axis=1)
    boot = bootstrap(truths, {"oracle": perfect}, replicates=300, seed=1)
    for k in (1, 3):
        mean, low, high, n = boot.interval("oracle", f"gain@{k}")
        assert low <= mean <= high and n == 8
        assert mean > boot.interval("random (expected)", f"gain@{k}")[0]


def _evidence(grid: str, targets: int, methods=("esm-logme",)):
    from stepstone.rank.evidence import Evidence, GainAtK, MethodEvidence

    return Evidence(grid={"name": grid, "targets": targets, "sources": 23, "seeds": 3,
                          "target_examples": 500}, level=0.9, replicates=10,
                    methods={m: MethodEvidence(method=m, targets=targets,
                                               gain_at=[GainAtK(k=1, mean=1.0, low=0.0,
                                                                high=2.0)]) for m in methods})


def test_the_hubs_evidence_is_replaced_only_by_a_complete_grid_with_as_many_targets(tmp_path,
                                                                                   caplog):
    """`stepstone rank` cites the hub's evidence.json, so a preview of a running grid or a
    smaller grid must not replace it; it goes beside the grid's results instead."""
    from stepstone.bench.evidence import save_evidence
    from stepstone.rank.evidence import EVIDENCE_FILE, Evidence

    hub, results = tmp_path / "hub", tmp_path / "results"
    hub.mkdir(), results.mkdir()
    hub_file, beside = hub / EVIDENCE_FILE, results / EVIDENCE_FILE
    _evidence("medium", 12).save(hub_file)

    message = save_evidence(_evidence("large", 24), hub_root=hub, results_dir=results,
                            cells_left=351)
    assert Evidence.load(hub_file).grid["name"] == "medium"  # kept
    assert Evidence.load(beside).grid["name"] == "large" and "351 cells left" in message

    save_evidence(_evidence("large", 24), hub_root=hub, results_dir=results, cells_left=0)
    assert Evidence.load(hub_file).grid["name"] == "large"  # complete, more targets

    message = save_evidence(_evidence("reduced", 5), hub_root=hub, results_dir=results,
                            cells_left=0)
    assert Evidence.load(hub_file).grid["name"] == "large" and "kept" in message
    assert Evidence.load(beside).grid["name"] == "reduced"

    # the same grid again: merged, so evaluating one more method keeps the others
    save_evidence(_evidence("large", 24, ("logme",)), hub_root=hub, results_dir=results,
                  cells_left=0)
    assert sorted(Evidence.load(hub_file).methods) == ["esm-logme", "logme"]

    # an explicit path is written whatever the grid, and a malformed file there is replaced
    chosen = tmp_path / "mine.json"
    chosen.write_text("{not json")
    with caplog.at_level("WARNING", logger="stepstone"):
        assert str(chosen) in save_evidence(_evidence("reduced", 5), hub_root=hub,
                                            results_dir=results, cells_left=7, path=chosen)
    assert "benchmark evidence left out" in caplog.text and str(chosen) in caplog.text
    assert Evidence.load(chosen).grid["name"] == "reduced"
    assert Evidence.load(hub_file).grid["name"] == "large"
