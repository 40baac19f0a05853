"""Successive halving and the seed statistics, on a fake trainer with known scores."""

from __future__ import annotations

import math

import numpy as np
import pytest

from stepstone.transfer import NO_TRANSFER
from stepstone.transfer.schedule import planned_runs, standing
from stepstone.transfer.stats import gains, pooled_sd, score_intervals

SEEDS = (42, 43, 44)


def run_fake(true: dict[str, float], noise: float, seeds=SEEDS) -> tuple[dict, list]:
    """Follow the schedule with a fake trainer: score = true value + seeded noise."""
    scores: dict[str, dict[int, float]] = {}
    order = []
    while True:
        state = standing(scores, list(true), seeds, reference=NO_TRANSFER)
        if state.next is None:
            return scores, order, state
        name, seed = state.next
        rng = np.random.default_rng(seed * 100 + len(name))
        scores.setdefault(name, {})[seed] = true[name] + rng.normal(0, noise)
        order.append(state.next)


def test_clearly_worse_candidate_gets_no_extra_seeds():
    true = {NO_TRANSFER: 0.70, "good": 0.80, "bad": 0.50, "close": 0.79}
    scores, order, state = run_fake(true, noise=0.01)
    assert len(scores["bad"]) == 1  # dropped after the first round
    assert order[:4] == [(n, 42) for n in true]  # every candidate gets one seed first
    assert len(scores["good"]) >= 2 and len(scores[NO_TRANSFER]) == len(scores["good"])
    assert "bad" not in state.contenders and NO_TRANSFER in state.contenders


def test_stops_early_when_one_is_clearly_ahead():
    true = {NO_TRANSFER: 0.50, "best": 0.90, "other": 0.55}
    scores, order, state = run_fake(true, noise=0.005, seeds=(1, 2, 3, 4, 5))
    assert "clearly ahead" in state.reason and state.rounds == 2
    assert len(order) == 3 + 3  # halving three keeps two, plus the reference


def test_noisy_tie_uses_every_seed():
    true = {NO_TRANSFER: 0.70, "a": 0.70}
    scores, order, state = run_fake(true, noise=0.05)
    assert len(order) == 6 and state.reason == "every contender has 3 seeds"


def test_planned_runs_bounds_the_schedule():
    assert planned_runs(4, 3) == 4 + 3 + 3
    assert planned_runs(2, 3) == 6
    true = {NO_TRANSFER: 0.7, "a": 0.8, "b": 0.6, "c": 0.75}
    _, order, _ = run_fake(true, noise=0.05)
    assert len(order) <= planned_runs(4, 3)


def test_intervals_and_gains_pool_the_seed_spread():
    scores = {NO_TRANSFER: {1: 0.70, 2: 0.72}, "a": {1: 0.80, 2: 0.80}, "b": {1: 0.60}}
    sd, dof = pooled_sd([np.array([0.70, 0.72]), np.array([0.8, 0.8]), np.array([0.6])])
    assert dof == 2 and sd == pytest.approx(math.sqrt(0.0002 / 2))
    mean, low, high = score_intervals(scores)[NO_TRANSFER]
    assert mean == pytest.approx(0.71) and low < mean < high
    gain = gains(scores, NO_TRANSFER)
    assert gain["a"][0] == pytest.approx(0.09) and gain["a"][3] > 0.9
    assert gain["b"][0] == pytest.approx(-0.10)
    assert math.isnan(gains({NO_TRANSFER: {1: 0.7}, "a": {1: 0.8}}, NO_TRANSFER)["a"][3])
