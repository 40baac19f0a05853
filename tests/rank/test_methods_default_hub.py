"""Every ranking method on the bundled default hub with a real target (integration)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stepstone._env import default_hub_path
from stepstone.hub import Hub
from stepstone.rank import available_methods, rank_sources
from tests.helpers import SHARED_DATASETS, requires_shared

pytestmark = [pytest.mark.integration, requires_shared,
              pytest.mark.skipif(not (default_hub_path() / "esms").is_dir(),
                                 reason="the default hub is not built in this checkout")]

TUNED = {"logme", "leep", "nce", "taskemb"}
#: a classification and a regression source of the default hub, with short texts
KEPT = ("sst2", "query_wellformedness")


@pytest.mark.parametrize("method", [m for m in available_methods()
                                    if ":" not in m and m not in TUNED]
                         + ["fusion:esm-logme,textemb,vocab-overlap"])
def test_method_ranks_every_source_of_the_default_hub(method):
    ranking = rank_sources(SHARED_DATASETS / "tweeteval_irony", method=method, num_examples=160)
    hub = Hub(default_hub_path())
    others = [e for e in hub.entries() if e.id != "tweeteval_irony"]  # not the target's own
    assert len(ranking) == len(others)
    assert ranking.skipped == [] and np.isfinite([s.score for s in ranking]).all()


@pytest.fixture(scope="module")
def kept_models(tmp_path_factory) -> Path:
    """MiniLM briefly fine-tuned on two default-hub sources, kept as `stepstone build
    --keep-models` keeps them (``<dir>/<esm id>``): what the tuned methods read. The real kept
    models of the default hub (artifacts/models) are not in a fresh clone."""
    from stepstone.data import load_task
    from stepstone.finetune import FineTuneConfig, fine_tune

    folder = tmp_path_factory.mktemp("kept-models")
    hub = Hub(default_hub_path())
    with pytest.MonkeyPatch.context() as patch:  # never the user's cache
        patch.setenv("STEPSTONE_CACHE", str(folder.parent / "tuned-cache"))
        for esm_id in KEPT:
            model = next(e for e in hub.entries() if e.id == esm_id).config["stepstone"][
                "embedding"]["model_name"]
            task = load_task(SHARED_DATASETS / esm_id, num_examples=32, seed=42)
            tuned = fine_tune(task, model_name=model, show_progress=False,
                              config=FineTuneConfig(epochs=1, batch_size=16, learning_rate=1e-4))
            tuned.save(folder / esm_id)
    return folder


@pytest.mark.parametrize("method", sorted(TUNED))
def test_tuned_methods_on_two_sources(method, kept_models, monkeypatch):
    # one cache for the four methods: the tuned models embed the target once (as in real use)
    monkeypatch.setenv("STEPSTONE_CACHE", str(kept_models.parent / "tuned-cache"))
    ranking = rank_sources(SHARED_DATASETS / "tweeteval_irony", method=method, num_examples=100,
                           models_dir=kept_models, filters={"ids": list(KEPT)})
    skipped = {s.esm_id: s.reason for s in ranking.skipped}
    if method in ("leep", "nce"):  # a regression head gives no class probabilities
        assert set(ranking.scores()) == {"sst2"}
        assert "regression" in skipped["query_wellformedness"]
    else:
        assert set(ranking.scores()) == set(KEPT), skipped
    assert np.isfinite(list(ranking.scores().values())).all()


def test_bundled_advice_model_fits_the_bundled_hub():
    """The committed calibration.json is accepted (reference row, the model checked against
    the hub) but its stored leave-one-target-out evaluation shows no skill, so the gain columns
    are left out with the reason; the recommendation cites the committed evidence.json."""
    ranking = rank_sources(SHARED_DATASETS / "tweeteval_irony", num_examples=300)
    assert ranking.reference["kind"] == "identity map"
    assert all(s.expected_gain is None for s in ranking)
    rec = ranking.recommendation
    assert rec["advice"]["shown"] is False and "no skill out of sample" in rec["advice"]["reason"]
    # the cited evidence is the committed report's gain@k of the grid the hub's file names
    grid = rec["evidence"]["grid"]["name"]
    committed = pd.read_csv(Path(__file__).resolve().parents[2] / "benchmarks" / "results"
                            / grid / "gain_at_k.csv").set_index("method").loc["esm-logme"]
    assert rec["evidence"]["targets"] == committed["targets"] >= 12
    first = rec["evidence"]["gain_at"][0]
    assert (first["mean"], first["low"], first["high"]) == pytest.approx(
        (committed["gain@1"], committed["gain@1 low"], committed["gain@1 high"]), rel=1e-9)
    assert rec["text"] in str(ranking) and ranking.stability is not None
