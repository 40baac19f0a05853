"""Packed hubs: one stacked file of maps, rebuilt when the ESM folders change."""

from __future__ import annotations

import os

import numpy as np
import pytest
from safetensors.numpy import load_file

from stepstone.esm import ESM, ESMConfig
from stepstone.hub import Hub
from stepstone.hub import packed as packed_module
from stepstone.hub.maps import iter_map_blocks
from stepstone.hub.packed import ensure_pack, iter_hub_blocks, pack_folder
from stepstone.hub.stacked import open_stacked, write_stacked


def _add(hub: Hub, name: str, *, seed: int, d: int = 6, dtype: str = "float16") -> ESM:
    rng = np.random.default_rng(seed)
    esm = ESM(weight=np.eye(d) + 0.1 * rng.standard_normal((d, d)),
              bias=0.1 * rng.standard_normal(d),
              config=ESMConfig(base_model_name="base", task_id=name))
    hub.add(esm, esm_id=name, dtype=dtype)
    return esm


@pytest.fixture
def hub(tmp_path) -> Hub:
    hub = Hub(tmp_path / "hub", create=True)
    for i, name in enumerate(["a", "b", "c", "d", "e"]):
        _add(hub, name, seed=i)
    return hub


def _blocks(hub, entries, **kwargs):
    skipped: dict[str, str] = {}
    out = [(entry.id, a) for block, maps in iter_hub_blocks(hub, entries, skipped=skipped,
                                                            **kwargs)
           for entry, a in zip(block, maps)]
    return out, skipped


def test_stacked_file_is_plain_safetensors_and_reads_in_slices(tmp_path):
    rows = np.arange(7 * 3 * 2, dtype=np.float32).reshape(7, 3, 2)
    path = tmp_path / "x.safetensors"
    assert write_stacked(path, "maps", "F16", (3, 2), [rows[:4], rows[4:]], max_rows=10) == 7
    np.testing.assert_array_equal(load_file(str(path))["maps"], rows.astype(np.float16))
    tensor = open_stacked(path, "maps")
    with tensor.open_raw() as handle:
        np.testing.assert_array_equal(tensor.read(handle, 2, 5), rows[2:5])
    path.write_bytes(path.read_bytes()[:-4])  # truncated
    with pytest.raises(OSError, match="truncated"):
        open_stacked(path, "maps")


def test_pack_holds_every_map_and_ranking_reads_it(hub):
    index = ensure_pack(hub, 6)
    assert index.ids == ["a", "b", "c", "d", "e"] and index.dtype == "F16" and not index.broken
    assert (hub.root / "packed" / index.file).is_file()
    got, skipped = _blocks(hub, hub.entries(), dim=6)
    assert not skipped and [i for i, _ in got] == index.ids
    for esm_id, a in got:
        np.testing.assert_array_equal(a, hub.get(esm_id).augmented())  # float16 values, exact
        assert a.dtype == np.float64
    stored, _ = _blocks(hub, hub.entries(), dim=6, as_stored=True)
    assert stored[0][1].dtype == np.float16


def test_pack_is_reused_while_fresh_and_rebuilt_when_the_hub_changes(hub):
    first = ensure_pack(hub, 6)
    assert ensure_pack(hub, 6).file == first.file  # no rebuild
    _add(hub, "f", seed=9, dtype="float32")
    second = ensure_pack(hub, 6)
    assert second.file != first.file and "f" in second.ids and second.dtype == "F32"
    assert not (hub.root / "packed" / first.file).exists()  # the stale file is gone
    hub.remove("a")
    third = ensure_pack(hub, 6)
    assert "a" not in third.ids
    forced = ensure_pack(hub, 6, force=True)
    assert forced.file != third.file and ensure_pack(hub, 6).file == forced.file


def test_a_missing_or_truncated_pack_file_is_rebuilt(hub):
    first = ensure_pack(hub, 6)
    data = hub.root / "packed" / first.file
    data.write_bytes(data.read_bytes()[:-16])
    second = ensure_pack(hub, 6)
    assert second.file != first.file and second.ids == first.ids
    (hub.root / "packed" / second.file).unlink()
    got, _ = _blocks(hub, hub.entries(), dim=6)
    assert [i for i, _ in got] == first.ids


def test_broken_and_other_dimension_esms_are_reported_not_dropped(hub):
    (hub.esm_dir / "b" / "model.safetensors").write_bytes(b"\x00" * 10)
    _add(hub, "wide", seed=7, d=8)
    hub.sync()
    index = ensure_pack(hub, 6)
    assert set(index.broken) == {"b", "wide"}
    got, skipped = _blocks(hub, hub.entries(), dim=6)
    assert [i for i, _ in got] == ["a", "c", "d", "e"]
    assert "readable safetensors" in skipped["b"] and "8-d" in skipped["wide"]
    # the folder path reports the same ESMs
    folder_skipped: dict[str, str] = {}
    list(iter_map_blocks(hub.entries(), dim=6, skipped=folder_skipped))
    assert folder_skipped == skipped


def test_a_subset_with_gaps_is_read_in_runs(hub, monkeypatch):
    monkeypatch.setattr(packed_module, "BLOCK_SIZE", 2)
    wanted = [e for e in hub.entries() if e.id in {"a", "b", "c", "e"}]
    blocks = [[e.id for e in block] for block, _ in
              iter_hub_blocks(hub, wanted, dim=6, skipped={})]
    assert blocks == [["a", "b"], ["c"], ["e"]]


def test_read_only_hub_is_packed_in_the_cache(hub, monkeypatch, tmp_path):
    real_access = os.access
    monkeypatch.setattr(packed_module.os, "access",
                        lambda path, mode: False if str(path) == str(hub.root)
                        else real_access(path, mode))
    folder = pack_folder(hub)
    assert folder is not None and str(folder).startswith(os.environ["STEPSTONE_CACHE"])
    assert ensure_pack(hub, 6).ids == ["a", "b", "c", "d", "e"]
    assert not (hub.root / "packed").exists()


def test_packing_can_be_turned_off(hub, monkeypatch):
    monkeypatch.setenv("STEPSTONE_NO_PACK", "1")
    assert ensure_pack(hub, 6) is None
    got, skipped = _blocks(hub, hub.entries(), dim=6)
    assert [i for i, _ in got] == ["a", "b", "c", "d", "e"] and not skipped
    assert not (hub.root / "packed").exists()


def test_mapped_rows_equal_read_rows_and_a_truncated_file_is_refused(tmp_path):
    rows = np.arange(5 * 3 * 2, dtype=np.float16).reshape(5, 3, 2)
    path = tmp_path / "stack.safetensors"
    assert write_stacked(path, "maps", "F16", (3, 2), [rows[:2], rows[2:]], max_rows=5) == 5
    tensor = open_stacked(path, "maps")
    with tensor.open_raw() as handle:
        np.testing.assert_array_equal(tensor.map(handle, 1, 4), rows[1:4])
        assert tensor.map(handle, 2, 2).shape == (0, 3, 2)
        mapped = tensor.map(handle, 0, 5)
    np.testing.assert_array_equal(mapped, rows)  # the mapping outlives the file handle
    with pytest.raises(ValueError):
        mapped[0, 0, 0] = 1.0  # read-only: the pack is never written through a view
    with open(path, "r+b") as handle:
        handle.truncate(path.stat().st_size - 4)
    with tensor.open_raw() as handle, pytest.raises(OSError, match="truncated"):
        tensor.map(handle, 4, 5)
