"""The embedding an ESM was fitted on, so that a target is embedded the same way.

An ESM maps one embedding space: the base model's sentence embeddings with one pooling, one
maximum length and one way of joining text pairs. stepstone records these under
``config.json["stepstone"]["embedding"]``; ESMs made by hfselect record none and were fitted on
hfselect's embedding, which :func:`expected_embedding` reconstructs.
"""

from __future__ import annotations

import logging
from typing import Any

from .block import StepstoneBlock

logger = logging.getLogger(__name__)

#: hfselect tokenizes with ``max_length=128``, truncating (and pads to 128 tokens, which with
#: the attention mask gives the same embeddings as stepstone's padding to the longest example).
HFSELECT_MAX_LENGTH = 128
#: hfselect joins several text columns into one string with " [SEP] " (no segment ids).
HFSELECT_PAIR_MODE = "sep-string"


def expected_embedding(base_model: str, config: dict[str, Any]) -> dict[str, Any]:
    """``{"model_name", "pooling", "max_length", "pair_mode"}`` of the embedding an ESM with
    this ``config.json`` content expects: the recorded one, else hfselect's for ``base_model``."""
    recorded = StepstoneBlock.of(config).embedding
    if recorded:
        return dict(recorded)
    return hfselect_embedding(base_model)


def embedding_mismatch(made_for: dict[str, Any], used: dict[str, Any], *,
                       pairs: bool = False) -> str | None:
    """How the embedding ``used`` differs from the one an ESM (or a model fitted on ESMs) was
    ``made_for``, as "<made for>; this ranking uses <used>"; None when they agree. Both are
    embedding specs (model_name, pooling, max_length, pair_mode); the way text pairs are joined
    matters only for a target of ``pairs``. The one check that ranking and advice share: an
    ESM maps one embedding space, and any other gives meaningless scores."""
    from ..encode.models import canonical_model_name

    if canonical_model_name(made_for["model_name"]) != canonical_model_name(used["model_name"]):
        return f"base model {made_for['model_name']!r}; this ranking uses {used['model_name']!r}"
    want = (made_for.get("pooling"), made_for.get("max_length"))
    have = (used.get("pooling"), used.get("max_length"))
    if want != have:
        return (f"{want[0]} pooling, max length {want[1]}; this ranking uses {have[0]}, "
                f"{have[1]}")
    joined = made_for.get("pair_mode", "tokenizer"), used.get("pair_mode", "tokenizer")
    if pairs and joined[0] != joined[1]:
        return f"text pairs joined as {joined[0]!r}; this ranking uses {joined[1]!r}"
    return None


def hfselect_embedding(base_model: str) -> dict[str, Any]:
    """The embedding hfselect 0.2 computes with ``base_model`` (see
    :func:`stepstone.encode.models.hfselect_pooling`)."""
    from ..encode.models import default_pooling, hfselect_pooling

    pooling = hfselect_pooling(base_model)
    if pooling is None:
        pooling = default_pooling(base_model)
        logger.warning("hfselect cannot embed with %s (only BERT, DistilBERT and RoBERTa "
                       "models); assuming %s pooling for its ESMs", base_model, pooling.value)
    return {"model_name": base_model, "pooling": pooling.value,
            "max_length": HFSELECT_MAX_LENGTH, "pair_mode": HFSELECT_PAIR_MODE}
