"""Property-based tests of ESM config parsing: any JSON in config.json gives either an ESMConfig
that the catalog and ranking can use, or one ESMError line (never another exception)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stepstone.errors import ESMError
from stepstone.esm import ESMConfig, read_config
from stepstone.esm.embedding import expected_embedding
from stepstone.hub.catalog import Catalog, HubEntry

SETTINGS = settings(max_examples=int(os.environ.get("STEPSTONE_HYPOTHESIS_EXAMPLES", 200)),
                    deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=8)
VALID = {"base_model_name": "sentence-transformers/all-MiniLM-L6-v2", "task_id": "sst2",
         "num_examples": 100, "esm_embedding_dim": 384,
         "stepstone": {"task_name": "sst2", "task_type": "classification", "num_classes": 2,
                       "fit": {"cosine": 0.9, "mse": 0.1},
                       "embedding": {"model_name": "sentence-transformers/all-MiniLM-L6-v2",
                                     "pooling": "mean", "max_length": 128,
                                     "pair_mode": "tokenizer"}}}
FIELDS = ["base_model_name", "task_id", "task_subset", "num_examples", "seed", "version",
          "esm_architecture", "esm_embedding_dim", "text_column", "stepstone",
          "stepstone.task_name", "stepstone.task_type", "stepstone.num_classes", "stepstone.fit",
          "stepstone.fit.cosine", "stepstone.embedding", "stepstone.embedding.pooling",
          "stepstone.embedding.max_length", "stepstone.embedding.pair_mode", "stepstone.origin"]


@st.composite
def configs(draw):
    """A valid config with a few fields replaced by arbitrary JSON, or arbitrary JSON."""
    if draw(st.integers(0, 5)) == 0:
        return draw(json_values)
    config = json.loads(json.dumps(VALID))
    for field in draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3)):
        *path, key = field.split(".")
        target = config
        for part in path:
            target = target.setdefault(part, {}) if isinstance(target, dict) else {}
        if isinstance(target, dict):
            target[key] = draw(json_values)
    return config


def usable(config: ESMConfig) -> None:
    """What the catalog and ranking do with a config must work."""
    entry = HubEntry.from_config("x", Path("x"), config)
    catalog = Catalog(":memory:")
    with catalog.transaction() as conn:
        catalog.upsert(entry, "sig", conn)
    assert [row["id"] for row in catalog.query()] == ["x"]
    assert isinstance(config.task_name, str) and config.task_name
    if config.embedding:
        spec = expected_embedding(config.base_model_name, config.to_dict())
        assert spec["pooling"] in ("mean", "cls", "pooler") and spec["max_length"] > 0
    catalog.close()


@SETTINGS
@given(data=configs())
def test_any_config_json_is_usable_or_one_clear_error(data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("esm")
    (folder / "config.json").write_text(json.dumps(data), encoding="utf-8")
    try:
        config = read_config(folder)
    except ESMError as err:
        assert "\n" not in str(err) and "config.json" in str(err)
        return
    usable(config)
