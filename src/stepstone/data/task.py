"""TaskData: the labelled texts of one target or source dataset, validated and ready to embed."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np

from .._options import Option
from ..errors import DataError


class TaskType(Option):
    CLASSIFICATION = "classification"
    REGRESSION = "regression"


@dataclass(frozen=True)
class TaskOrigin:
    """Where a TaskData came from and how it was read (recorded in ESM configs and results)."""

    location: str = "<memory>"
    kind: str = "memory"  # pool | csv | tsv | jsonl | json | parquet | hf | memory
    split: str | None = None
    subset: str | None = None
    text_column: str = "text"
    pair_column: str | None = None
    label_column: str = "label"
    total_examples: int | None = None  # rows before sampling
    num_examples: int | None = None  # requested sample size (None = all)
    seed: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True, eq=False)
class TaskData:
    """Validated texts (and optional text pairs) with labels.

    ``labels`` is int64 class ids ``0..C-1`` for classification (names in ``label_names``) and
    float64 values for regression. Build one with :func:`stepstone.data.load_task`.
    """

    texts: list[str]
    labels: np.ndarray
    task_type: TaskType
    name: str = "task"
    text_pairs: list[str] | None = None
    label_names: list[str] | None = None
    origin: TaskOrigin = field(default_factory=TaskOrigin)

    def __post_init__(self) -> None:
        n = len(self.texts)
        if len(self.labels) != n or (self.text_pairs is not None and len(self.text_pairs) != n):
            raise DataError(
                f"task {self.name!r}: {n} texts but {len(self.labels)} labels"
                + (f" and {len(self.text_pairs)} text pairs" if self.text_pairs is not None else "")
            )

    def __len__(self) -> int:
        return len(self.texts)

    def __repr__(self) -> str:
        kind = f"{self.num_classes} classes" if not self.is_regression else "regression"
        pair = ", pairs" if self.is_pair else ""
        return f"TaskData({self.name!r}, {len(self)} examples, {kind}{pair})"

    @property
    def is_regression(self) -> bool:
        return self.task_type is TaskType.REGRESSION

    @property
    def is_pair(self) -> bool:
        return self.text_pairs is not None

    @property
    def num_classes(self) -> int:
        """Number of classes (1 for regression: one output)."""
        if self.is_regression:
            return 1
        if self.label_names is not None:
            return len(self.label_names)
        return int(self.labels.max()) + 1

    @cached_property
    def fingerprint(self) -> str:
        """sha256 of the texts and pairs (not the labels): the embedding cache key."""
        digest = hashlib.sha256()
        for i, text in enumerate(self.texts):
            digest.update(text.encode("utf-8", "surrogatepass"))
            digest.update(b"\x1f")
            if self.text_pairs is not None:
                digest.update(self.text_pairs[i].encode("utf-8", "surrogatepass"))
            digest.update(b"\x1e")
        return digest.hexdigest()

    def subset(self, indices: np.ndarray | list[int]) -> TaskData:
        """The examples at ``indices`` (in that order), same metadata."""
        idx = np.asarray(indices, dtype=np.int64)
        return replace(
            self,
            texts=[self.texts[i] for i in idx],
            text_pairs=[self.text_pairs[i] for i in idx] if self.text_pairs is not None else None,
            labels=self.labels[idx],
        )

    def sample(self, num_examples: int | None, *, seed: int = 42) -> TaskData:
        """A seeded random sample of ``num_examples`` (file order kept); all if it has fewer."""
        if num_examples is None or num_examples >= len(self):
            return replace(self, origin=replace(self.origin, num_examples=num_examples, seed=seed))
        if num_examples <= 0:
            raise DataError(f"num_examples must be positive, got {num_examples}")
        rng = np.random.default_rng(seed)
        idx = np.sort(rng.permutation(len(self))[:num_examples])
        out = self.subset(idx)
        return replace(out, origin=replace(self.origin, num_examples=num_examples, seed=seed))

    def split(self, held_out: int, *, seed: int = 0) -> tuple[TaskData, TaskData]:
        """Split off ``held_out`` random examples: returns ``(rest, held_out_part)``."""
        held_out = max(0, min(held_out, len(self) - 1))
        perm = np.random.default_rng(seed).permutation(len(self))
        return self.subset(np.sort(perm[held_out:])), self.subset(np.sort(perm[:held_out]))

    def summary(self) -> dict[str, Any]:
        """Plain-JSON description (no texts): name, type, size, classes, origin."""
        return {
            "name": self.name,
            "task_type": self.task_type.value,
            "num_examples": len(self),
            "num_classes": None if self.is_regression else self.num_classes,
            "label_names": self.label_names,
            "is_pair": self.is_pair,
            "origin": self.origin.to_dict(),
        }

    def to_pandas(self):
        import pandas as pd

        frame = {"text": self.texts}
        if self.text_pairs is not None:
            frame["text_pair"] = self.text_pairs
        frame["label"] = self.labels
        return pd.DataFrame(frame)
