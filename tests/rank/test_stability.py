"""Stability over resamples of the target: what is known to be tied is reported tied, what is
clearly best comes first in almost every resample, and the first-order bootstrap of LogME
follows exact re-scoring of resampled rows."""

from __future__ import annotations

import numpy as np
import pytest

from stepstone.rank import Ranking
from stepstone.rank.stability import (SourceStability, Stability, bootstrap_rows,
                                      linearised_esm_logme, summarise)
from stepstone.scores.esm_logme import TargetStats, esm_logme
from stepstone.scores.logme import logme
from stepstone.scores.logme_influence import logme_influence, resampled_logme


def target(n: int = 300, d: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels decided by the first two features, with noise."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    labels = (x[:, 0] + 0.5 * x[:, 1] + 0.7 * rng.normal(size=n) > 0).astype(np.int64)
    return x, labels


def augmented(weight: np.ndarray) -> np.ndarray:
    """(D+1, D) map x -> x W (no bias)."""
    return np.vstack([weight, np.zeros((1, weight.shape[1]))])


def maps_for(d: int, rng: np.random.Generator) -> np.ndarray:
    """Two identical maps that keep the signal, then maps that scramble it away: the signal
    dimensions are replaced by noise directions (a rank-deficient map)."""
    keep = augmented(np.eye(d))
    out = [keep, keep.copy()]
    for _ in range(4):
        w = np.eye(d)
        w[:2, :2] = 0.0  # the two label-carrying features are lost
        out.append(augmented(w + 0.05 * rng.normal(size=(d, d))))
    return np.stack(out)


def resampled(x: np.ndarray, labels: np.ndarray, maps: np.ndarray, resamples: int = 200):
    stats = TargetStats.from_features(x, labels)
    full = esm_logme(stats, maps)
    draws = bootstrap_rows(len(x), resamples, seed=1)
    return full, linearised_esm_logme(x, labels, maps, full, draws)


def test_identical_maps_are_tied_and_share_the_first_place():
    x, labels = target()
    full, scores = resampled(x, labels, maps_for(x.shape[1], np.random.default_rng(2)))
    assert full[0] == pytest.approx(full[1])
    parts = summarise(scores)
    assert parts["tied"][:2].all()
    assert parts["first_ahead"][1] == 0.0  # never strictly ahead of its twin
    assert parts["share_first"][0] == pytest.approx(parts["share_first"][1])
    assert parts["share_first"][0] + parts["share_first"][1] == pytest.approx(1.0)
    assert not parts["tied"][2:].any()  # the scrambled maps are separable


def test_a_clearly_best_source_comes_first_in_almost_every_resample():
    x, labels = target(seed=3)
    maps = maps_for(x.shape[1], np.random.default_rng(4))[1:]  # one good map, four bad
    _, scores = resampled(x, labels, maps)
    parts = summarise(scores)
    assert parts["share_first"][0] >= 0.95
    assert parts["rank_low"][0] == parts["rank_high"][0] == 1
    assert parts["tied"].tolist() == [True, False, False, False, False]


def test_summarise_counts_ranks_and_ties_by_hand():
    scores = np.array([[3.0, 2.0, 1.0], [3.0, 3.0, 1.0], [1.0, 2.0, 3.0], [3.0, 1.0, 2.0]])
    parts = summarise(scores)
    # first place: rows 1 (split 0/1), 2 (source 2), 3 and 4 (source 0)
    assert parts["share_first"].tolist() == pytest.approx([2.5 / 4, 0.5 / 4, 1 / 4])
    assert parts["first_ahead"][1:].tolist() == [0.5, 0.75]
    assert parts["tied"].tolist() == [True, True, True]
    nan_row = summarise(np.array([[np.nan, 1.0], [np.nan, 1.0]]))  # a failed score is last
    assert nan_row["share_first"].tolist() == [0.0, 1.0]


def test_influence_matches_finite_differences_of_logme():
    """Duplicating row i changes N·LogME by c + ψ_i (c the same for every row)."""
    x, labels = target(n=400, d=6, seed=5)
    psi = logme_influence(x, labels)
    n, base = len(x), logme(x, labels)

    def duplicated(i: int) -> float:
        rows = np.r_[np.arange(n), i]
        return logme(x[rows], labels[rows]) * (n + 1) - base * n

    for i, j in ((0, 1), (7, 42), (100, 399)):
        assert duplicated(i) - duplicated(j) == pytest.approx(psi[i] - psi[j], abs=0.05)


def test_first_order_bootstrap_follows_exact_rescoring():
    x, labels = target(n=500, d=8, seed=6)
    psi, full = logme_influence(x, labels), logme(x, labels)
    draws = bootstrap_rows(len(x), 60, seed=7)
    linear = resampled_logme(full, psi, draws)
    exact = np.array([logme(x[rows], labels[rows]) for rows in draws])
    assert linear.mean() == pytest.approx(full, abs=0.2 * linear.std())  # centred
    assert np.corrcoef(linear, exact)[0, 1] > 0.8
    assert 0.5 < linear.std() / exact.std() < 1.5


def test_stability_round_trips_through_a_dict():
    x, labels = target()
    maps = maps_for(x.shape[1], np.random.default_rng(2))
    _, scores = resampled(x, labels, maps, resamples=50)
    parts = summarise(scores)
    rows = [SourceStability(esm_id=f"s{i}", task_name=f"s{i}", rank=i + 1,
                            share_first=float(parts["share_first"][i]),
                            rank_low=int(parts["rank_low"][i]),
                            rank_high=int(parts["rank_high"][i]),
                            first_ahead=None if i == 0 else float(parts["first_ahead"][i]),
                            tied_with_first=bool(parts["tied"][i])) for i in range(len(maps))]
    result = Stability(resamples=50, leading=len(maps), seed=1, sources=rows)
    assert result.tied == ["s0", "s1"]
    assert Stability.from_dict(result.to_dict()) == result
    assert "2 sources tied at the top (s0, s1)" in result.describe()


def with_stability(ranking, tied: int = 2, leading: int = 4):
    rows = [SourceStability(esm_id=s.esm_id, task_name=s.task_name, rank=s.rank,
                            share_first=0.5 if i < tied else 0.0, rank_low=1,
                            rank_high=i + 2, first_ahead=None if i == 0 else 0.6,
                            tied_with_first=i < tied, score_low=s.score - 0.001,
                            score_high=s.score + 0.001)
            for i, s in enumerate(ranking.sources[:leading])]
    ranking.stability = Stability(resamples=100, leading=leading, seed=0, sources=rows)
    return ranking


def test_stability_shows_in_table_csv_html_and_plot():
    import matplotlib

    matplotlib.use("Agg")
    from tests.rank.rankings import plain_ranking

    ranking = with_stability(plain_ranking(8))
    table = ranking.table(6).splitlines()
    assert "1st" in table[0] and "ranks" in table[0]
    assert table[1].split()[3:6] == ["50%", "1-2", "="]  # rank 1: share, interval, tied
    assert table[3].split()[3:6] == ["0%", "1-4", "classification"]  # not tied
    assert table[5].split()[3] == "classification"  # outside the re-scored top: blank
    frame = ranking.to_pandas()
    assert frame.loc[1, "tied_with_first"] and not frame.loc[3, "tied_with_first"]
    assert frame["rank_high"].isna().sum() == 4  # outside the re-scored top: blank
    assert "share_first" in ranking.to_csv().splitlines()[0]
    html = ranking.to_html()
    assert "first in resamples" in html and "tied with #1" in html
    assert "2 sources tied at the top (task_00, task_01)" in html
    ax = ranking.plot(k=8)
    bars = [c for c in ax.containers if type(c).__name__ == "ErrorbarContainer"]
    assert len(bars) == 1 and len(bars[0].lines[2][0].get_segments()) == 4
    assert Ranking.from_json(ranking.to_json()).stability == ranking.stability


def test_half_samples_are_seeded_halves_without_repeats():
    from stepstone.rank.stability import half_sample_rows

    rows = half_sample_rows(101, 30, seed=3)
    assert rows.shape == (30, 50)
    assert all(len(set(r)) == 50 and r.min() >= 0 and r.max() < 101 for r in rows)
    assert np.array_equal(rows, half_sample_rows(101, 30, seed=3))
    assert not np.array_equal(rows, half_sample_rows(101, 30, seed=4))
    # over many halves every row is drawn about half of the time
    share = np.bincount(half_sample_rows(40, 2000, seed=0).ravel(), minlength=40) / 2000
    assert np.all(np.abs(share - 0.5) < 0.05)
