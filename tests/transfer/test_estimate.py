"""The time estimate printed before a transfer run starts."""

from __future__ import annotations

import pytest

from stepstone.transfer.estimate import Estimate, Speed


def test_estimate_from_measured_speed_then_from_finished_runs():
    speed = Speed(train=0.05, predict=0.01, overhead=4.0)
    estimate = Estimate.make(speed, measured=[], train=200, held=100, epochs=2,
                             source_work=[1000])
    assert estimate.target_seconds == pytest.approx(4 + 0.05 * 400 + 1)
    assert estimate.next_seconds(True) == pytest.approx(25 + 4 + 50)
    assert estimate.next_seconds(False) == pytest.approx(25)
    text = estimate.message(runs=7, budget=3600)
    assert "at most 7 target fine-tunings" in text and "1 source fine-tunings" in text
    assert "Budget: 60 min" in text
    estimate.record(40.0)
    assert estimate.target_seconds == 40.0


def test_estimate_of_a_resumed_run_uses_its_rows():
    estimate = Estimate.make(None, measured=[30.0, 50.0, 40.0], train=100, held=50, epochs=1,
                             source_work=[])
    assert estimate.target_seconds == 40.0 and estimate.source_seconds == []
