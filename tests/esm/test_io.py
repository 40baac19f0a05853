from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from stepstone.errors import ESMError, IncompatibleESMError
from stepstone.esm import ESM, ESMConfig, load_esm, read_config, save_esm

HFSELECT_FIELDS = {"base_model_name", "task_id", "task_subset", "text_column", "label_column",
                   "task_split", "num_examples", "seed", "language", "esm_architecture",
                   "esm_embedding_dim", "lm_num_epochs", "lm_batch_size", "lm_learning_rate",
                   "lm_weight_decay", "lm_optimizer", "esm_num_epochs", "esm_batch_size",
                   "esm_learning_rate", "esm_weight_decay", "esm_optimizer", "developers",
                   "version"}


def make_esm(d: int = 6, seed: int = 0, **config) -> ESM:
    rng = np.random.default_rng(seed)
    cfg = ESMConfig(base_model_name="tiny/model", task_id="toy", **config)
    return ESM(weight=(np.eye(d) + 0.1 * rng.standard_normal((d, d))).astype(np.float32),
               bias=rng.standard_normal(d).astype(np.float32), config=cfg)


def test_round_trip_in_hfselect_layout(tmp_path):
    esm = make_esm(stepstone={"task_type": "classification"})
    folder = save_esm(esm, tmp_path / "esm", dtype="float32")
    config = json.loads((folder / "config.json").read_text())
    assert HFSELECT_FIELDS <= set(config)
    assert config["esm_architecture"] == "linear" and config["esm_embedding_dim"] == 6
    assert config["version"] != "0.1.0"  # hfselect would load its legacy module
    assert set(load_file(str(folder / "model.safetensors"))) == {"model.weight", "model.bias"}
    loaded = load_esm(folder)
    np.testing.assert_array_equal(loaded.weight, esm.weight)
    x = np.random.default_rng(1).standard_normal((4, 6))
    np.testing.assert_allclose(loaded(x), x @ esm.weight.T + esm.bias, rtol=1e-5)
    assert loaded.config.task_type == "classification"


def test_float16_storage_keeps_the_map(tmp_path):
    esm = make_esm(d=32)
    loaded = load_esm(save_esm(esm, tmp_path / "esm"))
    assert loaded.weight.dtype == np.float16
    x = np.random.default_rng(2).standard_normal((50, 32))
    a, b = esm(x), loaded(x)
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert cos.min() > 0.99999


def test_legacy_layout_and_unknown_keys_are_read(tmp_path):
    folder = tmp_path / "legacy"
    folder.mkdir()
    w = np.eye(4, dtype=np.float32)
    save_file({"sequential.0.weight": w, "sequential.0.bias": np.ones(4, np.float32)},
              str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps(
        {"base_model_name": "bert-base-multilingual-uncased", "task_id": "imdb",
         "version": "0.1.0", "embedding_dim": 4, "something_new": [1, 2]}))
    esm = load_esm(folder)
    assert esm.dim == 4 and esm.config.version == "0.1.0"
    assert esm.config.to_dict()["something_new"] == [1, 2]  # kept for writing back


def _broken(tmp_path, name, *, config=None, tensors=None, raw=None):
    folder = tmp_path / name
    folder.mkdir()
    cfg = {"base_model_name": "m", "task_id": "t", "esm_embedding_dim": 4}
    if config is not None:
        cfg = config
    (folder / "config.json").write_text(cfg if isinstance(cfg, str) else json.dumps(cfg))
    if raw is not None:
        (folder / "model.safetensors").write_bytes(raw)
    else:
        tensors = tensors if tensors is not None else {
            "model.weight": np.eye(4, dtype=np.float32), "model.bias": np.zeros(4, np.float32)}
        save_file(tensors, str(folder / "model.safetensors"))
    return folder


@pytest.mark.parametrize("kind,kwargs,message", [
    ("bad json", {"config": "{not json"}, "not valid JSON"),
    ("not an object", {"config": "[1, 2]"}, "expected a JSON object"),
    ("no task id", {"config": {"base_model_name": "m"}}, "'task_id' must be a non-empty"),
    ("unknown architecture", {"config": {"base_model_name": "m", "task_id": "t",
                                         "esm_architecture": "mlp"}}, "unknown esm_architecture"),
    ("nan weights", {"tensors": {"model.weight": np.full((4, 4), np.nan, np.float32),
                                 "model.bias": np.zeros(4, np.float32)}}, "NaN/inf"),
    ("inf bias", {"tensors": {"model.weight": np.eye(4, dtype=np.float32),
                              "model.bias": np.array([0, np.inf, 0, 0], np.float32)}}, "NaN/inf"),
    ("extra tensor", {"tensors": {"model.weight": np.eye(4, dtype=np.float32),
                                  "model.bias": np.zeros(4, np.float32),
                                  "evil": np.zeros(1, np.float32)}}, "unexpected tensors"),
    ("wrong keys", {"tensors": {"w": np.eye(4, dtype=np.float32)}}, "not a linear ESM"),
    ("wrong dim", {"tensors": {"model.weight": np.eye(5, dtype=np.float32),
                               "model.bias": np.zeros(5, np.float32)}}, "config/encoder has 4"),
    ("not square", {"config": {"base_model_name": "m", "task_id": "t"},
                    "tensors": {"model.weight": np.ones((4, 3), np.float32),
                                "model.bias": np.zeros(4, np.float32)}}, "not square"),
    ("integer weights", {"tensors": {"model.weight": np.eye(4, dtype=np.int32),
                                     "model.bias": np.zeros(4, np.int32)}}, "expected floats"),
    ("empty file", {"raw": b""}, "empty file"),
    ("truncated", {"raw": b"\x50\x00\x00\x00\x00\x00\x00\x00{\"model.weight\":"}, "truncated"),
])
def test_broken_esms_get_one_clear_error(tmp_path, kind, kwargs, message):
    folder = _broken(tmp_path, kind.replace(" ", "_"), **kwargs)
    with pytest.raises(ESMError, match=message):
        load_esm(folder)


def test_missing_files(tmp_path):
    (tmp_path / "a").mkdir()
    with pytest.raises(ESMError, match="no config.json"):
        load_esm(tmp_path / "a")
    (tmp_path / "a" / "config.json").write_text('{"base_model_name": "m", "task_id": "t"}')
    with pytest.raises(ESMError, match="no model.safetensors"):
        load_esm(tmp_path / "a")


def test_incompatible_base_model_or_dimension(tmp_path):
    folder = save_esm(make_esm(d=6), tmp_path / "esm")
    with pytest.raises(IncompatibleESMError, match="base model"):
        load_esm(folder, base_model="other/model")
    with pytest.raises(IncompatibleESMError, match="encoder has 8"):
        load_esm(folder, expected_dim=8)
    assert read_config(folder).base_model_name == "tiny/model"


def test_save_replaces_atomically_and_leaves_no_temporary_files(tmp_path):
    save_esm(make_esm(seed=1), tmp_path / "esm")
    save_esm(make_esm(seed=2), tmp_path / "esm")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["esm"]
    np.testing.assert_allclose(load_esm(tmp_path / "esm").weight,
                               make_esm(seed=2).weight, atol=1e-3)
