"""Columns of a DataFrame -> a validated TaskData (column choice, texts, labels)."""

from __future__ import annotations

import logging
from typing import Any

from .._options import did_you_mean, some_of
from ..errors import ColumnNotFoundError, DataError
from .task import TaskData, TaskOrigin, TaskType
from .validate import clean_texts, encode_labels

logger = logging.getLogger(__name__)

TEXT_COLUMNS = ("text", "sentence", "sentence1", "question", "premise", "content", "review")
LABEL_COLUMNS = ("label", "labels", "score", "target", "class", "y")
PAIR_FOR_TEXT = {"text": "text_pair", "sentence1": "sentence2", "premise": "hypothesis",
                 "question": "answer"}


def _pick(frame_columns: list[str], given: str | None, candidates: tuple[str, ...], *,
          role: str, where: str, option: str) -> str:
    if given is not None:
        if given not in frame_columns:
            raise ColumnNotFoundError(
                f"{where}: no {role} column {given!r}; columns are {_listed(frame_columns)}."
                f"{did_you_mean(given, frame_columns)} Pass the right name with {option}."
            )
        return given
    for candidate in candidates:
        if candidate in frame_columns:
            return candidate
    raise ColumnNotFoundError(
        f"{where}: cannot tell which column holds the {role} (looked for "
        f"{', '.join(candidates)}); columns are {_listed(frame_columns)}. Pass it with {option}."
    )


def _listed(columns: list[str]) -> str:
    """The first few column names and a count: a table of 2,000 columns makes no error line."""
    return f"[{some_of([repr(c) for c in columns], first=12)}]"


def task_from_frame(frame: Any, *, name: str, where: str, origin: TaskOrigin,
                    text_column: str | None = None, pair_column: str | None = None,
                    label_column: str | None = None, task_type: TaskType | str | None = None,
                    label_names: list[str] | None = None) -> TaskData:
    """Validate the columns of a DataFrame and build a TaskData."""
    columns = [str(c) for c in frame.columns]
    if len(frame) == 0:
        raise DataError(f"{where}: the dataset is empty (no rows).")
    text_col = _pick(columns, text_column, TEXT_COLUMNS, role="text", where=where,
                     option="--text-column")
    label_col = _pick(columns, label_column, LABEL_COLUMNS, role="label", where=where,
                      option="--label-column")
    pair_col = pair_column
    if pair_col is None and text_column is None and PAIR_FOR_TEXT.get(text_col) in columns:
        pair_col = PAIR_FOR_TEXT[text_col]
    if pair_col is not None:
        pair_col = _pick(columns, pair_col, (), role="text pair", where=where,
                         option="--pair-column")
    chosen = [c for c in (text_col, label_col, pair_col) if c is not None]
    if len(set(chosen)) < len(chosen):
        raise DataError(f"{where}: text, pair and label columns must differ "
                        f"(got {text_col!r}, {pair_col!r}, {label_col!r}).")
    for column in dict.fromkeys(chosen):
        if columns.count(column) > 1:
            raise DataError(f"{where}: column {column!r} appears {columns.count(column)} times; "
                            "give the columns unique names.")
    frame = frame.set_axis(columns, axis=1)  # a relabelled view: the caller's frame stays as is
    texts = clean_texts(frame[text_col].tolist(), where=where, column=text_col)
    pairs = (clean_texts(frame[pair_col].tolist(), where=where, column=pair_col)
             if pair_col else None)
    raw_labels = frame[label_col].tolist()
    if origin.kind in ("csv", "tsv"):
        raw_labels = _parse_text_labels(raw_labels)
    labels, kind, names = encode_labels(raw_labels, where=where, column=label_col,
                                        task_type=task_type, label_names=label_names)
    logger.info("%s: %d examples, %s%s", name, len(texts), kind.value,
                f" with {len(names)} classes" if names else "")
    origin = TaskOrigin(**{**origin.to_dict(), "text_column": text_col, "pair_column": pair_col,
                           "label_column": label_col, "total_examples": len(texts)})
    return TaskData(texts=texts, labels=labels, task_type=kind, name=name, text_pairs=pairs,
                    label_names=names, origin=origin)


def _parse_text_labels(values: list[Any]) -> list[Any]:
    """CSV cells are read as text: turn numeric label columns back into numbers."""
    cells = [None if v is None or (isinstance(v, str) and not v.strip()) else v for v in values]
    present = [v for v in cells if v is not None]
    for convert in (int, float):
        try:
            converted = [convert(v) for v in present]
        except (TypeError, ValueError):
            continue
        it = iter(converted)
        return [None if v is None else next(it) for v in cells]
    return cells
