"""Ranking through the hub's pack gives the folders' results, broken ESMs included."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from stepstone.cli import main
from stepstone.encode import Encoder
from stepstone.hub import Hub
from stepstone.rank import rank_sources
from stepstone.scores import logme
from tests.rank.test_rank import add_random_esm


@pytest.fixture
def hub(tmp_path, tiny_bert):
    hub = Hub(tmp_path / "hub", create=True)
    for i, name in enumerate(["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]):
        add_random_esm(hub, name, tiny_bert, seed=i)
    (hub.esm_dir / "beta" / "model.safetensors").write_bytes(b"\x00" * 10)  # broken
    hub.sync()
    return hub


def test_packed_and_folder_rankings_agree(hub, tiny_bert, toy_task, monkeypatch):
    monkeypatch.setenv("STEPSTONE_WORKERS", "2")  # the threaded pipeline
    packed = rank_sources(toy_task, hub=hub)
    assert (hub.root / "packed").is_dir()
    monkeypatch.setenv("STEPSTONE_NO_PACK", "1")
    monkeypatch.setenv("STEPSTONE_WORKERS", "1")
    folders = rank_sources(toy_task, hub=Hub(hub.root))
    assert [s.esm_id for s in packed] == [s.esm_id for s in folders]
    np.testing.assert_allclose([s.score for s in packed], [s.score for s in folders], rtol=1e-10)
    for ranking in (packed, folders):
        assert {s.esm_id: s.reason for s in ranking.skipped}.keys() == {"beta"}
    # every score is LogME of the explicitly mapped embeddings
    features = Encoder(tiny_bert, pooling="mean").embed_task(toy_task).astype(np.float64)
    for source in packed:
        mapped = hub.get(source.esm_id)(features)
        assert source.score == pytest.approx(logme(mapped, toy_task.labels), rel=1e-8)


def test_hub_pack_command(hub):
    result = CliRunner().invoke(main, ["hub", "pack", "--hub", str(hub.root)])
    assert result.exit_code == 0, result.output
    assert "5 ESMs (32-d, F32) packed in" in result.output
    assert "left out beta" in result.output
