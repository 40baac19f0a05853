"""Every ranking method on the bundled default hub with a real target (integration)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stepstone._env import default_hub_path
from stepstone.hub import Hub
from stepstone.rank import available_methods, rank_sources
from tests.helpers import REPO, SHARED_DATASETS, requires_shared

pytestmark = [pytest.mark.integration, requires_shared,
              pytest.mark.skipif(not (default_hub_path() / "esms").is_dir(),
                                 reason="the default hub is not built in this checkout")]

TUNED = {"logme", "leep", "nce", "taskemb"}
MODELS = Path(__import__("os").environ.get("STEPSTONE_MODELS", REPO / "artifacts" / "models"))


@pytest.mark.parametrize("method", [m for m in available_methods()
                                    if ":" not in m and m not in TUNED]
                         + ["fusion:esm-logme,textemb,vocab-overlap"])
def test_method_ranks_every_source_of_the_default_hub(method):
    ranking = rank_sources(SHARED_DATASETS / "tweeteval_irony", method=method, num_examples=300)
    hub = Hub(default_hub_path())
    others = [e for e in hub.entries() if e.id != "tweeteval_irony"]  # not the target's own
    assert len(ranking) == len(others)
    assert ranking.skipped == [] and np.isfinite([s.score for s in ranking]).all()


@pytest.mark.skipif(not MODELS.is_dir(), reason="no kept tuned models ($STEPSTONE_MODELS)")
@pytest.mark.parametrize("method", sorted(TUNED))
def test_tuned_methods_on_two_sources(method):
    kept = sorted(p.name for p in MODELS.iterdir() if (p / "tuned.json").is_file()
                  and p.name != "tweeteval_irony")[:2]
    ranking = rank_sources(SHARED_DATASETS / "tweeteval_irony", method=method, num_examples=300,
                           models_dir=MODELS, filters={"ids": kept})
    scored = set(ranking.scores())
    regression = {s.esm_id for s in ranking.skipped if "regression" in s.reason}
    assert scored | regression == set(kept) and np.isfinite(list(ranking.scores().values())).all()


def test_bundled_advice_model_fits_the_bundled_hub():
    """The committed calibration.json is accepted: reference row, gain columns and a
    recommendation for a real target; the recommendation is about the best expected gain."""
    ranking = rank_sources(SHARED_DATASETS / "tweeteval_irony", num_examples=300)
    assert ranking.reference["kind"] == "identity map"
    assert all(s.expected_gain is not None and s.gain_low <= s.expected_gain <= s.gain_high
               for s in ranking)
    best = max(ranking, key=lambda s: s.expected_gain)
    rec = ranking.recommendation
    assert rec["expected_gain"] == best.expected_gain
    assert rec["model"]["grid"] == "reduced" and rec["text"] in str(ranking)
