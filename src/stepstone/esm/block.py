"""The ``"stepstone"`` block of an ESM's config.json, read as typed records.

The block is stored as a plain JSON object (``ESMConfig.stepstone``; other producers' keys are
kept unchanged), and :func:`~stepstone.esm.config.ESMConfig.from_dict` has already checked the
types of what is read here. Readers use :meth:`StepstoneBlock.of` instead of
``config.get("stepstone", {}).get(...)`` chains, so a key's name and default live in one place.
ESMs made by hfselect have no block: every field is then empty.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: the columns and sampling of the source's data, as ``load_task`` takes them
SOURCE_COLUMNS = ("text_column", "pair_column", "label_column", "split", "subset")


@dataclass(frozen=True)
class SourceRecord:
    """Where the ESM's source data came from and how it was read (``stepstone.source``)."""

    location: str | None = None
    kind: str | None = None  # "pool", "file", "hf", "memory"
    text_column: str | None = None
    pair_column: str | None = None
    label_column: str | None = None
    split: str | None = None
    subset: str | None = None
    seed: int | None = None
    num_examples: int | None = None  # the sample the build drew
    total_examples: int | None = None  # rows before sampling

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> SourceRecord:
        data = data or {}
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__})

    def columns(self) -> dict[str, str | None]:
        """The keyword arguments of ``load_task`` that read the source as the build did."""
        return {k: getattr(self, k) for k in SOURCE_COLUMNS}

    @property
    def readable(self) -> bool:
        return bool(self.location) and self.kind != "memory"


@dataclass(frozen=True)
class StepstoneBlock:
    """stepstone's metadata of one ESM (empty fields for ESMs made elsewhere)."""

    task_name: str | None = None
    task_type: str | None = None
    num_classes: int | None = None
    created: str | None = None
    library_version: str | None = None
    #: the embedding spec the ESM expects (model_name, pooling, max_length, pair_mode);
    #: empty for hfselect's ESMs (see :func:`stepstone.esm.embedding.expected_embedding`)
    embedding: dict[str, Any] = field(default_factory=dict)
    fit: dict[str, Any] = field(default_factory=dict)
    source: SourceRecord = field(default_factory=SourceRecord)
    origin: dict[str, Any] = field(default_factory=dict)  # where a pulled ESM came from

    @classmethod
    def of(cls, config: Any) -> StepstoneBlock:
        """The block of a config.json object (dict) or of an :class:`ESMConfig`."""
        raw = config.get("stepstone") if isinstance(config, dict) else config.stepstone
        raw = raw or {}
        return cls(task_name=raw.get("task_name"), task_type=raw.get("task_type"),
                   num_classes=raw.get("num_classes"), created=raw.get("created"),
                   library_version=raw.get("library_version"),
                   embedding=dict(raw.get("embedding") or {}), fit=dict(raw.get("fit") or {}),
                   source=SourceRecord.from_dict(raw.get("source")),
                   origin=dict(raw.get("origin") or {}))

    @property
    def fit_cosine(self) -> float | None:
        """The cosine the stored (rounded) weights reach, else the fit's own."""
        return self.fit.get("stored_cosine", self.fit.get("cosine"))
