"""The recommendation states its evidence: gain columns only from an advice model with
out-of-sample skill, the benchmark's gain@k cited with its grid, the tied leaders named, and
"verify on your data" when the evidence shows no gain."""

from __future__ import annotations

import json

import numpy as np
import pytest

from stepstone.rank import Ranking, rank_sources
from stepstone.rank.advice import ADVICE_FILE, AdviceModel
from stepstone.rank.evidence import (EVIDENCE_FILE, Evidence, GainAtK, MethodEvidence,
                                     advice_skill)
from stepstone.rank.ranking import RankedSource
from stepstone.rank.recommend import build_recommendation, recommendation_text
from stepstone.rank.stability import SourceStability, Stability
from tests.rank.test_advice import advised_hub  # noqa: F401 (fixture)

NO_SKILL = {"targets": 12, "mae": 1.86, "mae_constant": 1.91, "brier": 0.230,
            "brier_base_rate": 0.226}


def evidence(gains: list[tuple[float, float, float]], method: str = "esm-logme") -> Evidence:
    """gain@1.. from (mean, low, high) triples on a 12-target "medium" grid."""
    return Evidence(grid={"name": "medium", "targets": 12, "sources": 23, "seeds": 3,
                          "target_examples": 500}, level=0.9, replicates=2000,
                    methods={method: MethodEvidence(method, 12, [
                        GainAtK(k, *g) for k, g in enumerate(gains, start=1)])})


NO_GAIN = [(1.38, -0.75, 3.61), (2.1, -0.2, 4.4), (2.9, 0.6, 5.3)]
GAIN = [(2.5, 0.4, 4.6), (3.0, 1.0, 5.0)]


def sources(n: int = 6) -> list[RankedSource]:
    return [RankedSource(rank=i + 1, esm_id=f"id{i}", task_name=f"src{i}", score=-0.7 - i / 100)
            for i in range(n)]


def stability(tied: int, n: int = 6) -> Stability:
    rows = [SourceStability(esm_id=f"id{i}", task_name=f"src{i}", rank=i + 1,
                            share_first=1.0 / tied if i < tied else 0.0, rank_low=1,
                            rank_high=tied, first_ahead=None if i == 0 else 0.5,
                            tied_with_first=i < tied) for i in range(n)]
    return Stability(resamples=100, leading=n, seed=0, sources=rows)


def recommend(ev: Evidence | None, tied: int = 3, **fields):
    options = dict(method="esm-logme", sources=sources(), stability=stability(tied),
                   evidence=ev, evidence_path="/hub/evidence.json", advice=None,
                   advice_status=None,
                   target={"name": "irony", "origin": {"location": "/data/irony.csv"}})
    return build_recommendation(**{**options, **fields})


def test_no_gain_shown_says_so_and_suggests_verifying_the_tied_leaders():
    rec = recommend(evidence(NO_GAIN), tied=3)
    assert rec["action"] == "verify" and rec["source"] is None
    assert rec["candidates"] == ["src0", "src1", "src2"] == rec["leaders"]
    assert rec["command"] == "stepstone transfer /data/irony.csv --top 3"
    text = recommendation_text(rec)
    assert "does not show that esm-logme's first pick helps, and on your sample 3 sources are "\
        "tied at the top: verify the first 3 (src0, src1, src2)" in text
    assert "+1.4 [-0.8, +3.6]" in text and "grid medium: 12 targets x 23 sources x 3 seeds" in text
    assert "no gain shown" in text and "best of its first 3 +2.9 [+0.6, +5.3]" in text
    many = recommend(evidence(NO_GAIN), tied=6)  # more tied than are worth verifying
    assert many["candidates"] == [f"src{i}" for i in range(5)]
    assert "6 sources are tied at the top (all that were re-scored)" in many["text"]
    assert [g["k"] for g in rec["evidence"]["gain_at"]] == [1, 2, 3]


def test_one_clear_leader_without_gain_verifies_the_first_k_where_the_gain_shows():
    rec = recommend(evidence(NO_GAIN), tied=1)
    assert rec["action"] == "verify" and rec["candidates"] == ["src0", "src1", "src2"]
    assert rec["command"].endswith("--top 3")  # gain@3 is the first interval above zero


def test_evidence_of_a_gain_recommends_the_first_and_names_its_ties():
    rec = recommend(evidence(GAIN), tied=2)
    assert rec["action"] == "fine-tune-first" and rec["source"] == "src0"
    assert rec["text"] == "Fine-tune on src0 first (tied with src1 on your sample)."
    assert "no gain shown" not in recommendation_text(rec)


def test_without_evidence_or_advice_there_is_no_recommendation():
    assert recommend(None) is None
    assert recommend(evidence(GAIN, method="textemb")) is None  # no figures for this method
    status = {"shown": False, "reason": "gain columns left out: no skill"}
    rec = recommend(None, advice_status=status)
    assert rec["action"] is None and "No benchmark evidence" in rec["text"]
    assert "gain columns left out: no skill." in recommendation_text(rec)


def test_advice_skill_needs_both_references_beaten():
    assert advice_skill(NO_SKILL, "medium")[0] is False
    ok, line = advice_skill({**NO_SKILL, "brier": 0.2}, "medium")
    assert ok and "Brier 0.200 vs 0.226" in line
    assert advice_skill({}, None)[0] is False


def test_evidence_file_round_trips(tmp_path):
    ev = evidence(NO_GAIN)
    assert Evidence.load(ev.save(tmp_path / EVIDENCE_FILE)) == ev
    (tmp_path / "bad.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(ValueError, match="not a stepstone evidence file"):
        Evidence.load(tmp_path / "bad.json")


# --- in a ranking ---------------------------------------------------------------------------


def _set_evaluation(hub, evaluation):
    model = AdviceModel.load(hub.root / ADVICE_FILE)
    model.evaluation = evaluation
    model.save(hub.root / ADVICE_FILE)


def test_unskilled_advice_prints_no_gain_columns_and_cites_the_evidence(advised_hub, toy_task):
    hub, _ = advised_hub
    _set_evaluation(hub, NO_SKILL)
    evidence(NO_GAIN).save(hub.root / EVIDENCE_FILE)
    ranking = rank_sources(toy_task, hub=hub)
    assert all(s.expected_gain is None for s in ranking)
    assert "P(>none)" not in ranking.table() and "expected_gain" not in ranking.to_csv()
    line = ranking.recommendation_line()
    assert "gain columns left out: the advice model has no skill out of sample" in line
    assert "Brier 0.230 vs 0.226" in line and "+1.4 [-0.8, +3.6]" in line
    assert "stepstone transfer" in line
    back = Ranking.from_json(ranking.to_json())
    assert back.recommendation["evidence"]["gain_at"][0]["mean"] == pytest.approx(1.38)
    assert back.recommendation_line() == line
    assert "+1.4 [-0.8, +3.6]" in ranking.to_html()


def test_skilled_advice_prints_gain_columns_and_cites_the_evidence(advised_hub, toy_task):
    hub, _ = advised_hub
    evidence(NO_GAIN).save(hub.root / EVIDENCE_FILE)
    ranking = rank_sources(toy_task, hub=hub)
    assert all(s.expected_gain is not None for s in ranking)
    assert "P(>none)" in ranking.table()
    line = ranking.recommendation_line()
    assert "+1.4 [-0.8, +3.6]" in line and "left out" not in line
    assert ranking.recommendation["advice"]["shown"] is True


def test_a_hub_without_evidence_shows_ranking_and_stability(advised_hub, toy_task):
    hub, _ = advised_hub
    (hub.root / ADVICE_FILE).unlink()
    ranking = rank_sources(toy_task, hub=hub)
    assert ranking.recommendation is None and ranking.recommendation_line() == ""
    assert ranking.stability is not None and ranking.stability.resamples == 100
    assert "1st" in ranking.table() and "ranks" in ranking.table()
    off = rank_sources(toy_task, hub=hub, stability="off")
    assert off.stability is None and "ranks" not in off.table()
    # the time of a phase is reported when the phase ran
    assert "stability" in ranking.timings and "stability" not in off.timings
    assert set(off.timings) >= {"load", "embed", "score", "advice", "total"}


def test_other_methods_get_stability_only_when_asked(advised_hub, toy_task):
    """auto: ESM-LogME only (first-order bootstrap); on: any method, re-run per resample."""
    hub, _ = advised_hub
    assert rank_sources(toy_task, hub=hub, method="esm-hscore").stability is None
    on = rank_sources(toy_task, hub=hub, method="esm-hscore", stability="on", resamples=5)
    assert on.stability.resamples == 5 and len(on.stability.sources) == len(on)
    assert [s.esm_id for s in on.stability.sources] == [s.esm_id for s in on]
    assert abs(sum(s.share_first for s in on.stability.sources) - 1.0) < 1e-9


def test_exact_stability_re_scores_half_samples_even_for_esm_logme(advised_hub, toy_task):
    """on: ESM-LogME keeps its first-order bootstrap (resampled scores centred on the full
    sample's only on average); exact: half-samples re-scored and re-centred, so every column's
    mean is the full sample's score. The (R, K) matrix stays out of the saved ranking."""
    hub, _ = advised_hub
    on = rank_sources(toy_task, hub=hub, stability="on", resamples=6)
    exact = rank_sources(toy_task, hub=hub, stability="exact", resamples=6)
    full = np.array([s.score for s in exact.sources[:exact.stability.leading]])
    assert exact.stability.resampled.shape == (6, len(full))
    np.testing.assert_allclose(exact.stability.resampled.mean(axis=0), full, rtol=1e-9)
    assert on.stability.resampled.shape == (6, len(full))
    assert not np.allclose(on.stability.resampled.mean(axis=0), full, rtol=1e-9)
    assert not np.allclose(on.stability.resampled, exact.stability.resampled)
    saved = exact.to_dict()["stability"]
    assert "resampled" not in saved
    back = Ranking.from_json(exact.to_json()).stability
    assert back == exact.stability and back.resampled is None


def test_the_cli_offers_every_stability_mode():
    from stepstone.cli.rank_cmd import rank
    from stepstone.rank.stability import StabilityMode

    option = next(p for p in rank.params if p.name == "stability_mode")
    assert list(option.type.choices) == [m.value for m in StabilityMode]


def test_re_scored_methods_see_half_samples_without_duplicated_rows(advised_hub, toy_task,
                                                                    monkeypatch):
    """A method without a fast path is re-scored on halves of the target drawn without
    replacement: a duplicated row would look easier to fit (exact re-scoring of ESM-LogME on
    rows drawn with replacement spread ~200x wider than independent samples of the target:
    benchmarks/stability_calibration.py)."""
    from stepstone.rank import stability as module

    seen = []
    real = module._restricted

    def spy(ctx, entries, rows=None):
        sub = real(ctx, entries, rows)
        if rows is not None:
            seen.append((np.asarray(rows), len(sub.task), sub.features.shape[0]))
        return sub

    monkeypatch.setattr(module, "_restricted", spy)
    hub, _ = advised_hub
    rank_sources(toy_task, hub=hub, method="esm-hscore", stability="on", resamples=4)
    assert len(seen) == 4
    for rows, task_rows, feature_rows in seen:
        assert len(rows) == task_rows == feature_rows == len(toy_task) // 2
        assert len(np.unique(rows)) == len(rows)  # no row twice
    assert len({tuple(rows) for rows, _, _ in seen}) == 4  # four different halves
