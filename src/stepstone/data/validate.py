"""Turn raw columns into validated texts and labels, with errors that name file, column and row.

Rows are reported 1-based in file order (for JSONL that is the line number; for CSV/TSV the
first data row after the header is row 1).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import DataError, EmptyTextError, LabelError
from .task import TaskType

_MAX_ROWS_LISTED = 5
#: Whole-number labels up to this size can be class ids; beyond it a float is a measurement
#: (and float -> int64 would no longer be exact).
_MAX_CLASS_ID = 2**53


def _rows(positions: list[int]) -> str:
    shown = ", ".join(str(p + 1) for p in positions[:_MAX_ROWS_LISTED])
    more = f" and {len(positions) - _MAX_ROWS_LISTED} more" if len(positions) > _MAX_ROWS_LISTED else ""
    return f"row{'s' if len(positions) > 1 else ''} {shown}{more}"


def is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, (float, np.floating)) and math.isnan(value):
        return True
    try:  # pandas NA / NaT
        import pandas as pd

        return value is pd.NA or value is pd.NaT
    except ImportError:  # pragma: no cover
        return False


def clean_texts(values: Sequence[Any], *, where: str, column: str) -> list[str]:
    """Check that every value is a non-empty string of valid Unicode; returns them as a list of
    ``str``."""
    bad_type, empty, invalid = [], [], []
    for pos, value in enumerate(values):
        if not isinstance(value, str):
            if is_missing(value):
                empty.append(pos)
            else:
                bad_type.append(pos)
        elif not value.strip():
            empty.append(pos)
        elif not _encodable(value):
            invalid.append(pos)
    if bad_type:
        example = values[bad_type[0]]
        raise EmptyTextError(
            f"{where}: column {column!r} must hold strings, but has {type(example).__name__} "
            f"values (e.g. {example!r}) in {_rows(bad_type)}. Convert them to text or pick "
            "another text column."
        )
    if empty:
        raise EmptyTextError(
            f"{where}: column {column!r} is empty or missing in {len(empty)} of {len(values)} "
            f"rows ({_rows(empty)}). Remove those rows or fill in the text."
        )
    if invalid:
        raise DataError(
            f"{where}: column {column!r} holds text that is not valid Unicode (a lone surrogate "
            f"such as '\\ud800', often from a badly escaped JSON string) in {_rows(invalid)}. "
            "Fix or drop those rows."
        )
    return [str(v) for v in values]


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _label_kind(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, str):
        return "str"
    if isinstance(value, numbers.Integral):
        return "int"
    if isinstance(value, numbers.Real):
        return "float"
    return type(value).__name__


def encode_labels(
    values: Sequence[Any],
    *,
    where: str,
    column: str,
    task_type: TaskType | str | None = None,
    label_names: list[str] | None = None,
) -> tuple[np.ndarray, TaskType, list[str] | None]:
    """Validate raw labels and encode them.

    Returns ``(labels, task_type, label_names)``: int64 class ids with their names for
    classification, float64 values (and ``None``) for regression. The task type is inferred when
    not given: strings, booleans and whole numbers are classes; other numbers are regression.
    """
    if len(values) == 0:
        raise LabelError(f"{where}: no rows, so no labels in column {column!r}.")
    missing = [pos for pos, v in enumerate(values) if is_missing(v)]
    if missing:
        raise LabelError(
            f"{where}: column {column!r} has {len(missing)} missing (None/NaN) labels in "
            f"{_rows(missing)}. Drop those rows or fill in their labels."
        )
    kinds: dict[str, int] = {}
    for pos, value in enumerate(values):
        kinds.setdefault(_label_kind(value), pos)
    if {"int", "float"} <= kinds.keys():  # 1 and 2.5 in one column: numbers, not mixed types
        kinds.pop("int")
    unsupported = [k for k in kinds if k not in ("bool", "str", "int", "float")]
    if unsupported or len(kinds) > 1:
        described = ", ".join(f"{k} (e.g. {values[p]!r} at row {p + 1})" for k, p in kinds.items())
        raise LabelError(
            f"{where}: column {column!r} mixes label types: {described}. Use one type for all "
            "labels (class names, class ids or numbers)."
        )
    kind = next(iter(kinds))
    if task_type is not None:
        task_type = TaskType.parse(task_type)
    elif label_names is not None:  # declared class names: a classification task
        task_type = TaskType.CLASSIFICATION
    if kind == "float":
        arr = np.asarray(values, dtype=np.float64)
        if not np.isfinite(arr).all():
            bad = np.flatnonzero(~np.isfinite(arr)).tolist()
            raise LabelError(f"{where}: column {column!r} has infinite labels in {_rows(bad)}.")
        inferred = TaskType.CLASSIFICATION if _class_like(arr) else TaskType.REGRESSION
    elif kind == "int":
        try:
            arr = np.asarray(values, dtype=np.int64)
        except OverflowError:  # beyond int64: keep Python ints (as class names or floats)
            arr = np.asarray(values, dtype=object)
        inferred = TaskType.CLASSIFICATION
    else:
        arr = np.asarray(values, dtype=object)
        inferred = TaskType.CLASSIFICATION
    task_type = task_type or inferred
    if task_type is TaskType.REGRESSION:
        return _regression_labels(arr, kind=kind, where=where, column=column), task_type, None
    labels, names = _class_ids(arr, kind=kind, label_names=label_names, where=where, column=column)
    return labels, task_type, names


def _class_like(arr: np.ndarray) -> bool:
    """Whole numbers small enough to be class ids exactly."""
    return bool(np.all(arr == np.round(arr)) and np.all(np.abs(arr) <= _MAX_CLASS_ID))


def _regression_labels(arr: np.ndarray, *, kind: str, where: str, column: str) -> np.ndarray:
    if kind in ("str", "bool"):
        raise LabelError(
            f"{where}: regression needs numeric labels, but column {column!r} holds {kind} values "
            f"(e.g. {arr[0]!r}). Use task type 'classification' or convert the labels to numbers."
        )
    out = arr.astype(np.float64)
    if not np.isfinite(out).all():  # Python ints beyond float64's range
        raise LabelError(f"{where}: column {column!r} has labels too large for numbers "
                         f"(e.g. {arr[~np.isfinite(out)][0]!r:.40}).")
    if np.ptp(out) == 0:
        raise LabelError(
            f"{where}: every label in column {column!r} equals {out[0]:g}; a regression target "
            "needs varying labels."
        )
    return out


def _class_ids(arr: np.ndarray, *, kind: str, label_names: list[str] | None, where: str,
               column: str) -> tuple[np.ndarray, list[str]]:
    if label_names is not None and kind in ("int", "float"):
        numbers = arr.astype(np.float64)
        if not _class_like(numbers):
            bad = np.flatnonzero(numbers != np.round(numbers)).tolist() or [0]
            example = arr[bad[0]].item() if isinstance(arr[bad[0]], np.generic) else arr[bad[0]]
            raise LabelError(f"{where}: column {column!r} must hold whole class ids "
                             f"0..{len(label_names) - 1}, not {example!r:.40} ({_rows(bad)}).")
        ids = numbers.astype(np.int64)
        out_of_range = np.flatnonzero((ids < 0) | (ids >= len(label_names))).tolist()
        if out_of_range:
            raise LabelError(
                f"{where}: column {column!r} has class ids outside 0..{len(label_names) - 1} in "
                f"{_rows(out_of_range)}."
            )
        names = list(label_names)
    else:
        if kind == "float" and _class_like(arr):
            arr = arr.astype(np.int64)
        uniques = sorted(set(arr.tolist()), key=lambda v: (isinstance(v, str), v))
        if kind in ("int", "float") and uniques == list(range(len(uniques))):
            names = [str(u) for u in uniques]  # already ids 0..C-1: keep them
        elif label_names is not None:
            missing = [u for u in uniques if str(u) not in label_names]
            if missing:
                raise LabelError(
                    f"{where}: labels {missing[:5]} in column {column!r} are not among the "
                    f"declared label names {label_names}."
                )
            names = list(label_names)
        else:
            names = [str(u) for u in uniques]
        index = {name: i for i, name in enumerate(names)}
        ids = np.asarray([index[str(v)] for v in arr.tolist()], dtype=np.int64)
    present = np.unique(ids)
    if present.size < 2:
        only = names[int(present[0])] if present.size else "?"
        raise LabelError(
            f"{where}: column {column!r} has only one class ({only!r}); classification needs at "
            "least two. Use more rows, or task type 'regression' for numeric scores."
        )
    return ids, names
