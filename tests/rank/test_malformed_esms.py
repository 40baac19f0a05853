"""Every kind of broken or hostile ESM gets one clear line in the ranking's report, end to end
through rank_sources, and the good ESMs are still ranked."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from stepstone.hub import Hub
from stepstone.rank import rank_sources
from tests.rank.test_rank import add_random_esm

D = 32  # the tiny BERT's embedding size


def _weights(**tensors: np.ndarray) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        save_file(tensors, str(folder / "model.safetensors"))
    return apply


def _config(**changes) -> Callable[[Path], None]:
    """Change config.json fields; a dotted name reaches into the stepstone block, None deletes."""
    def apply(folder: Path) -> None:
        config = json.loads((folder / "config.json").read_text())
        for name, value in changes.items():
            target, key = config, name
            while "__" in key:
                head, key = key.split("__", 1)
                target = target[head]
            if value is None:
                target.pop(key)
            else:
                target[key] = value
        (folder / "config.json").write_text(json.dumps(config))
    return apply


def _raw(name: str, data: bytes) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        (folder / name).write_bytes(data)
    return apply


def _truncate(folder: Path) -> None:
    path = folder / "model.safetensors"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _delete(name: str) -> Callable[[Path], None]:
    return lambda folder: (folder / name).unlink()


def _both(*steps: Callable[[Path], None]) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        for step in steps:
            step(folder)
    return apply


EYE, ZERO = np.eye(D, dtype=np.float32), np.zeros(D, np.float32)
NAN_WEIGHT = EYE.copy()
NAN_WEIGHT[3, 4] = np.nan
INF_BIAS = ZERO.copy()
INF_BIAS[0] = np.inf
#: Loading a pickle would run `touch <marker>`; stepstone never unpickles, so nothing runs.
PICKLE_PAYLOAD = b"cos\nsystem\n(S'touch {marker}'\ntR."
#: A safetensors header claiming 2**40 bytes of JSON.
HEADER_BOMB = struct.pack("<Q", 2**40) + b"{" + b" " * 100

#: esm id -> (how it is broken, a piece of the reason the ranking must give)
MALFORMED: dict[str, tuple[Callable[[Path], None], str]] = {
    "wrong_dimension": (_both(_weights(**{"model.weight": np.eye(16, dtype=np.float32),
                                          "model.bias": np.zeros(16, np.float32)}),
                              _config(esm_embedding_dim=16)),
                        "config says 16-d embeddings, the encoder has 32"),
    "dimension_not_as_configured": (_weights(**{"model.weight": np.eye(16, dtype=np.float32),
                                                "model.bias": np.zeros(16, np.float32)}),
                                    "maps 16-d embeddings, but the config/encoder has 32"),
    "nan_weights": (_weights(**{"model.weight": NAN_WEIGHT, "model.bias": ZERO}),
                    "weight has 1 NaN/inf values"),
    "inf_bias": (_weights(**{"model.weight": EYE, "model.bias": INF_BIAS}),
                 "bias has 1 NaN/inf values"),
    "other_base_model": (_config(base_model_name="someone/else"),
                         "made for base model 'someone/else'"),
    "truncated_weights": (_truncate, "not a readable safetensors file"),
    "empty_weights": (_raw("model.safetensors", b""), "model.safetensors: empty file"),
    "header_bomb": (_raw("model.safetensors", HEADER_BOMB), "not a readable safetensors file"),
    "pickle_as_weights": (_raw("model.safetensors", PICKLE_PAYLOAD),
                          "not a readable safetensors file"),
    "missing_weights": (_delete("model.safetensors"),
                        "incomplete ESM folder (no model.safetensors)"),
    "missing_config": (_delete("config.json"), "incomplete ESM folder (no config.json)"),
    "config_not_json": (_raw("config.json", b"{oops"), "config.json: not valid JSON"),
    "config_not_utf8": (_raw("config.json", b'{"task_id": "\xff"}'),
                        "config.json: not valid JSON"),
    "config_not_an_object": (_raw("config.json", b"[1, 2]"), "expected a JSON object, got list"),
    "config_nested_too_deep": (_raw("config.json", b"[" * 200_000),
                               "not valid JSON (nested too deeply)"),
    "config_too_large": (_raw("config.json", b"{}" + b" " * (5 * 2**20)),
                         "too large for an ESM config"),
    "config_without_base_model": (_config(base_model_name=None),
                                  "'base_model_name' must be a non-empty string"),
    "config_wrong_type": (_config(num_examples="lots"),
                          "'num_examples' must be an integer or null (got 'lots')"),
    "config_bad_fit_block": (_config(stepstone__fit=[0.9]),
                             "'stepstone.fit' must be an object"),
    "config_bad_pooling": (_config(stepstone__embedding__pooling="max"),
                           "'stepstone.embedding' is not a valid embedding spec"),
    "unknown_architecture": (_config(esm_architecture="mlp"), "unknown esm_architecture 'mlp'"),
    "extra_tensors": (_weights(**{"model.weight": EYE, "model.bias": ZERO,
                                  "backdoor": np.ones(3, np.float32)}),
                      "unexpected tensors ['backdoor']"),
    "wrong_tensor_names": (_weights(**{"linear.weight": EYE, "linear.bias": ZERO}),
                           "are not a linear ESM"),
    "integer_weights": (_weights(**{"model.weight": np.eye(D, dtype=np.int32),
                                    "model.bias": np.zeros(D, np.int32)}),
                        "has dtype I32, expected floats"),
    "not_square": (_weights(**{"model.weight": np.ones((D, 16), np.float32),
                               "model.bias": ZERO}), "is not square"),
    "other_pooling": (_config(stepstone__embedding__pooling="cls"), "made for cls pooling"),
}


@pytest.fixture
def hostile_hub(tmp_path, tiny_bert):
    hub = Hub(tmp_path / "hub", create=True)
    for i, name in enumerate(["alpha", "delta", *MALFORMED]):
        add_random_esm(hub, name, tiny_bert, seed=i)
    marker = tmp_path / "pickle-ran"
    for name, (breaker, _) in MALFORMED.items():
        if name == "pickle_as_weights":
            breaker = _raw("model.safetensors",
                           PICKLE_PAYLOAD.replace(b"{marker}", str(marker).encode()))
        breaker(hub.esm_dir / name)
    return hub


def test_each_malformed_esm_gets_one_clear_line_and_the_rest_are_ranked(hostile_hub, toy_task,
                                                                        tiny_bert, tmp_path):
    ranking = rank_sources(toy_task, hub=Hub(hostile_hub.root), model_name=tiny_bert)
    assert sorted(s.esm_id for s in ranking) == ["alpha", "delta"]
    reasons = {s.esm_id: s.reason for s in ranking.skipped}
    assert set(reasons) == set(MALFORMED)
    for name, (_, expected) in MALFORMED.items():
        assert expected in reasons[name], (name, reasons[name])
        assert "\n" not in reasons[name] and len(reasons[name]) < 400
    assert not (tmp_path / "pickle-ran").exists()
    notes = str(ranking).splitlines()
    assert all(any(line.startswith(f"left out {name}: ") for line in notes) for name in MALFORMED)


def test_verify_reports_every_malformed_esm(hostile_hub):
    report = Hub(hostile_hub.root).verify()
    valid_elsewhere = {"other_base_model", "other_pooling", "wrong_dimension"}  # sound files
    for name in set(MALFORMED) - valid_elsewhere:
        assert any(line.startswith(f"{name}: ") for line in report.problems), name
    assert not any(line.startswith(("alpha", "delta")) for line in report.problems)


def test_damaged_source_statistics_do_not_stop_a_ranking(tmp_path, tiny_bert, toy_task):
    hub = Hub(tmp_path / "hub", create=True)
    for i, name in enumerate(["alpha", "beta"]):
        esm = add_random_esm(hub, name, tiny_bert, seed=i)
        hub.add(esm, esm_id=name, overwrite=True, dtype="float32",
                stats={"text_mean": np.full(D, i + 1.0, np.float32)})
    (hub.esm_dir / "beta" / "source_stats.safetensors").write_bytes(b"\x00" * 9)
    ranking = rank_sources(toy_task, hub=Hub(hub.root), method="textemb")
    assert [s.esm_id for s in ranking] == ["alpha"]
    assert [s.esm_id for s in ranking.skipped] == ["beta"]
    problems = Hub(hub.root).verify().problems
    assert len(problems) == 1 and "beta: " in problems[0] and "source statistics" in problems[0]
