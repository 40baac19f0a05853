"""``stepstone hub add-domain-stats`` on the tiny built hub, and the methods that read the fits
(domain-divergence, esm-ped) and MS-LEEP selection with the kept heads."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from stepstone.cli import main
from stepstone.hub import Hub
from stepstone.build.domain_stats import add_domain_stats, build_sample
from stepstone.rank import rank_sources
from stepstone.scores.divergence import GaussianFit


@pytest.fixture
def hub_copy(built, tmp_path):
    """The built hub as a hub built before domain statistics existed (fits removed)."""
    from safetensors.numpy import save_file

    root = tmp_path / "hub"
    shutil.copytree(built.hub_root, root)
    hub = Hub(root)
    for entry in hub.entries():
        stats = hub.stats(entry.id)
        assert "domain_basis" in stats  # `stepstone build` stores them
        save_file({k: v for k, v in stats.items() if not k.startswith("domain_")},
                  str(root / "esms" / entry.id / "source_stats.safetensors"))
    return root


def test_add_domain_stats_redraws_the_build_sample_and_is_resumable(hub_copy, built):
    hub = Hub(hub_copy)
    before = {e.id: hub.stats(e.id) for e in hub.entries()}
    result = CliRunner().invoke(main, ["hub", "add-domain-stats", "--hub", str(hub_copy),
                                       "--max-examples", "30", "--rank", "4"])
    assert result.exit_code == 0, result.output
    assert "added 3" in result.output
    for entry in hub.entries():
        stats = hub.stats(entry.id)
        assert set(before[entry.id]) < set(stats)  # old statistics kept, fit added
        np.testing.assert_array_equal(stats["text_mean"], before[entry.id]["text_mean"])
        fit = GaussianFit.from_tensors(stats)
        assert fit.basis.shape[1] == 4 and fit.num_examples == 30
        sample = build_sample(entry, max_examples=None, seed=0)
        assert len(sample) == entry.config["num_examples"]  # the ESM's own training sample
    again = add_domain_stats(hub, max_examples=30, rank=4)
    assert again.count("skipped") == 3 and again.count("added") == 0


def test_domain_divergence_and_esm_ped_rank_with_the_fits(hub_copy, built, toy_task):
    hub = Hub(hub_copy)
    missing = rank_sources(toy_task, hub=hub, method="domain-divergence")
    assert len(missing) == 0 and all("add-domain-stats" in s.reason for s in missing.skipped)
    add_domain_stats(hub, max_examples=30, rank=4)
    ranking = rank_sources(toy_task, hub=hub, method="domain-divergence")
    assert len(ranking) == 3 and all(s.score <= 1e-9 for s in ranking)
    ped = rank_sources(toy_task, hub=hub, method="esm-ped")
    assert len(ped) == 3 and np.isfinite([s.score for s in ped]).all()


def test_frechet_ranks_the_source_with_the_same_texts_first(hub_copy, built):
    hub = Hub(hub_copy)
    add_domain_stats(hub, max_examples=None, rank=8)
    entry = hub.entry("alpha")
    own = build_sample(entry, max_examples=None, seed=0)
    ranking = rank_sources(own, hub=hub, method="domain-divergence", include_target=True)
    # its own sample: the distance comes only from the rank-8 approximation, the others' are
    # larger
    assert ranking[0].esm_id == "alpha" and ranking[0].score > ranking[1].score


def test_ms_leep_selection_uses_the_kept_heads(built, toy_task):
    ranking = rank_sources(toy_task, hub=built.hub_root, models_dir=built.models, diverse=2,
                           diverse_objective="ms-leep")
    picks = ranking.selected
    assert 1 <= len(picks) <= 2 and all(p.gain is not None for p in picks)
    assert "gamma" in ranking.selection["left_out"]  # regression source: no classifier head
