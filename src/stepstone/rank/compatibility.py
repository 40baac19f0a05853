"""Which ESMs fit an embedding: the one check used by ranking (entries made for another
embedding are skipped), by sharded workers (which refuse such entries) and, through
:func:`stepstone.esm.embedding.embedding_mismatch`, by the advice model."""

from __future__ import annotations

from typing import Any

from ..esm.embedding import embedding_mismatch, expected_embedding
from ..hub.catalog import HubEntry
from .ranking import Skipped


def expected_embeddings(entries: list[HubEntry]) -> dict[str, dict[str, Any]]:
    """esm id -> the embedding spec its ESM expects (hfselect's for ESMs that record none)."""
    hfselect: dict[str, dict[str, Any]] = {}  # one look-up per base model, not per ESM
    out = {}
    for entry in entries:
        if entry.block.embedding:
            out[entry.id] = expected_embedding(entry.base_model, entry.config)
        else:
            if entry.base_model not in hfselect:
                hfselect[entry.base_model] = expected_embedding(entry.base_model, {})
            out[entry.id] = hfselect[entry.base_model]
    return out



def split_compatible(entries: list[HubEntry], used: dict[str, Any], *, pairs: bool,
                     expected: dict[str, dict[str, Any]] | None = None
                     ) -> tuple[list[HubEntry], list[Skipped]]:
    """Keep ESMs made for the embedding ``used`` (an ``EmbeddingSpec.to_dict()``): same base
    model, pooling and max length, and for a target of text pairs the same way of joining them
    (an ESM maps one embedding space; another one gives meaningless scores). ``expected``:
    :func:`expected_embeddings` of the entries when already computed."""
    expected = expected if expected is not None else expected_embeddings(entries)
    keep, skipped = [], []
    for entry in entries:
        # the catalog's base model, not the spec's: an hfselect ESM records only the former
        made_for = {**expected[entry.id], "model_name": entry.base_model}
        mismatch = embedding_mismatch(made_for, used, pairs=pairs)
        if mismatch:
            skipped.append(Skipped(entry.id, f"made for {mismatch}"))
        else:
            keep.append(entry)
    return keep, skipped
