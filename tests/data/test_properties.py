"""Property-based tests of dataset loading and validation: whatever the columns, types,
encodings, sizes and missing values, the result is either a valid TaskData or a stepstone error
(never another exception, never a silently wrong type)."""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stepstone.data import TaskData, TaskType, load_task
from stepstone.data.validate import clean_texts, encode_labels
from stepstone.errors import DataError, LabelError, StepstoneError

SETTINGS = settings(max_examples=int(__import__("os").environ.get("STEPSTONE_HYPOTHESIS_EXAMPLES", 150)), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# --- what a dataset cell can hold -----------------------------------------------------------------

words = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)
cells = st.one_of(
    st.none(), st.booleans(), words, st.just(""), st.just("   \t"),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([np.nan, pd.NA, pd.NaT, np.float32("nan"), np.float32(2.5), np.int64(3),
                     np.float64(1e300), np.bool_(True), "a\ud800b", "x" * 20_000, "\x00", "é"]),
    st.binary(max_size=6), st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=1))
column_names = st.one_of(st.sampled_from(["text", "label", "sentence", "text_pair", "score",
                                          "y", "review"]), st.text(max_size=6), st.integers(0, 3))


@st.composite
def frames(draw) -> pd.DataFrame:
    names = draw(st.lists(column_names, min_size=1, max_size=4))  # may repeat
    n = draw(st.integers(0, 12))
    column_kind = [draw(st.sampled_from(["texts", "ints", "floats", "mixed"])) for _ in names]
    rows = []
    for _ in range(n):
        row = []
        for kind in column_kind:
            if kind == "texts":
                row.append(draw(st.one_of(words, st.sampled_from(["good movie", "bad film"]))))
            elif kind == "ints":
                row.append(draw(st.integers(0, 3)))
            elif kind == "floats":
                row.append(draw(st.floats(-5, 5)))
            else:
                row.append(draw(cells))
        rows.append(row)
    try:
        return pd.DataFrame(rows, columns=names)
    except UnicodeEncodeError:  # pandas' arrow strings refuse lone surrogates: keep objects
        return pd.DataFrame(rows, columns=names, dtype=object)


def check_task(task: TaskData) -> None:
    """The invariants every TaskData that load_task returns must satisfy."""
    assert isinstance(task, TaskData)
    n = len(task)
    assert n > 0 and isinstance(task.texts, list) and len(task.texts) == n
    for texts in (task.texts, task.text_pairs or []):
        for text in texts:
            assert type(text) is str and text.strip()
            text.encode("utf-8")  # no lone surrogates: tokenizers could not take them
    if task.text_pairs is not None:
        assert len(task.text_pairs) == n
    labels = task.labels
    assert isinstance(labels, np.ndarray) and labels.shape == (n,)
    if task.task_type is TaskType.CLASSIFICATION:
        assert labels.dtype == np.int64
        assert task.label_names is not None and all(type(s) is str for s in task.label_names)
        assert labels.min() >= 0 and labels.max() < task.num_classes == len(task.label_names)
        assert np.unique(labels).size >= 2
    else:
        assert task.task_type is TaskType.REGRESSION and labels.dtype == np.float64
        assert np.isfinite(labels).all() and np.ptp(labels) > 0
    assert len(task.fingerprint) == 64


def load_or_error(load) -> TaskData | None:
    try:
        task = load()
    except StepstoneError as err:
        assert str(err).strip() and "\n" not in str(err).strip()
        return None
    check_task(task)
    return task


@SETTINGS
@given(frame=frames(), data=st.data())
def test_any_dataframe_gives_a_valid_task_or_a_stepstone_error(frame, data):
    columns = [str(c) for c in frame.columns]
    pick = st.one_of(st.none(), st.sampled_from(columns))
    kwargs = {"text_column": data.draw(pick), "label_column": data.draw(pick),
              "pair_column": data.draw(st.one_of(st.none(), st.sampled_from(columns))),
              "task_type": data.draw(st.sampled_from([None, "classification", "regression"]))}
    before = list(frame.columns)
    load_or_error(lambda: load_task(frame, **kwargs))
    assert list(frame.columns) == before  # the caller's frame is not modified


ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "latin-1", "cp1252", "utf-32"]


@st.composite
def data_files(draw) -> tuple[str, bytes]:
    """(suffix, raw bytes): a generated table written as CSV/TSV/JSONL/JSON in some encoding, or
    arbitrary bytes."""
    suffix = draw(st.sampled_from([".csv", ".tsv", ".jsonl", ".json"]))
    if draw(st.integers(0, 4)) == 0:
        return suffix, draw(st.binary(max_size=200))
    frame = draw(frames())
    frame.columns = [str(c) for c in frame.columns]
    records = [{str(k): _jsonable(v) for k, v in zip(frame.columns, row)}
               for row in frame.itertuples(index=False)]
    if suffix == ".jsonl":
        text = "\n".join(json.dumps(r) for r in records)
    elif suffix == ".json":
        text = json.dumps(records)
    else:
        text = frame.to_csv(index=False, sep="\t" if suffix == ".tsv" else ",")
    encoding = draw(st.sampled_from(ENCODINGS))
    return suffix, text.encode(encoding, errors="replace")


def _jsonable(value):
    if isinstance(value, (bytes, np.generic)) or value is pd.NA or value is pd.NaT:
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, int) and abs(value) > 2**60:
        return str(value)
    return value


@SETTINGS
@given(file=data_files())
def test_any_file_gives_a_valid_task_or_a_stepstone_error(file):
    suffix, raw = file
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"data{suffix}"
        path.write_bytes(raw)
        load_or_error(lambda: load_task(path))


@SETTINGS
@given(values=st.lists(cells, max_size=12),
       task_type=st.sampled_from([None, "classification", "regression"]),
       names=st.one_of(st.none(), st.lists(st.text(max_size=3), min_size=1, max_size=4)))
def test_label_encoding_is_typed_or_refused(values, task_type, names):
    try:
        labels, kind, label_names = encode_labels(values, where="x", column="label",
                                                  task_type=task_type, label_names=names)
    except LabelError:
        return
    assert labels.shape == (len(values),)
    if kind is TaskType.CLASSIFICATION:
        assert labels.dtype == np.int64 and label_names is not None
        assert 0 <= labels.min() and labels.max() < len(label_names)
        assert np.unique(labels).size >= 2
    else:
        assert labels.dtype == np.float64 and np.isfinite(labels).all()


@SETTINGS
@given(values=st.lists(cells, max_size=8))
def test_text_cleaning_returns_strings_or_refuses(values):
    try:
        texts = clean_texts(values, where="x", column="text")
    except DataError:
        return
    assert all(type(t) is str and t.strip() for t in texts) and len(texts) == len(values)


# --- inputs that must be accepted (so that the properties above cannot pass by refusing all) ---

#: non-blank text of valid Unicode (letters, digits, punctuation, symbols, spaces), any script
good_texts = st.text(alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Zs")),
                     min_size=1, max_size=15).filter(lambda t: t.strip())
class_values = st.one_of(st.lists(st.integers(-5, 5), min_size=2, max_size=12),
                         st.lists(good_texts, min_size=2, max_size=12),
                         st.lists(st.booleans(), min_size=2, max_size=12))
#: finite, varying, not all whole (else they are class ids): inferred as regression
regression_values = st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=12).filter(
    lambda v: any(x != round(x) for x in v) and len(set(v)) >= 2)


@SETTINGS
@given(values=class_values.filter(lambda v: len(set(v)) >= 2))
def test_class_labels_are_accepted_and_decode_to_the_given_values(values):
    labels, kind, names = encode_labels(values, where="x", column="label")
    assert kind is TaskType.CLASSIFICATION and labels.dtype == np.int64
    assert [names[i] for i in labels] == [str(v) for v in values]
    assert len(names) == len(set(values))


@SETTINGS
@given(values=regression_values)
def test_numeric_labels_are_accepted_as_regression_values(values):
    labels, kind, names = encode_labels(values, where="x", column="label")
    assert kind is TaskType.REGRESSION and names is None
    assert labels.dtype == np.float64 and labels.tolist() == values


@SETTINGS
@given(values=st.lists(good_texts, max_size=12))
def test_valid_texts_are_accepted_unchanged(values):
    assert clean_texts(values, where="x", column="text") == values


@st.composite
def good_tables(draw) -> tuple[pd.DataFrame, list]:
    """(frame, raw labels): a text column, maybe a pair column, a label column with two or more
    classes or varying numbers, under the default or other column names."""
    regression = draw(st.booleans())
    labels = draw(regression_values if regression
                  else class_values.filter(lambda v: len(set(v)) >= 2))
    n = len(labels)
    names = draw(st.sampled_from([("text", "text_pair", "label"), ("sentence1", "sentence2",
                                                                   "score"),
                                  ("review", "other", "stars")]))
    columns = {names[0]: draw(st.lists(good_texts, min_size=n, max_size=n))}
    if draw(st.booleans()):
        columns[names[1]] = draw(st.lists(good_texts, min_size=n, max_size=n))
    columns[names[2]] = labels
    return pd.DataFrame(columns), labels


def check_loaded(task: TaskData, frame: pd.DataFrame, labels: list, *, text_column: str,
                 pair_column: str | None) -> None:
    check_task(task)
    assert task.texts == frame[text_column].tolist()
    assert task.text_pairs == (frame[pair_column].tolist() if pair_column else None)
    if task.task_type is TaskType.REGRESSION:
        np.testing.assert_allclose(task.labels, labels, rtol=1e-15)
    else:
        assert [task.label_names[i] for i in task.labels] == [str(v) for v in labels]


def _columns(frame: pd.DataFrame) -> dict[str, str | None]:
    names = list(frame.columns)
    return {"text_column": names[0], "pair_column": names[1] if len(names) == 3 else None,
            "label_column": names[-1]}


@SETTINGS
@given(table=good_tables())
def test_valid_dataframes_are_accepted_with_their_texts_and_labels(table):
    frame, labels = table
    columns = _columns(frame)
    task = load_task(frame, **columns)
    check_loaded(task, frame, labels, text_column=columns["text_column"],
                 pair_column=columns["pair_column"])


@SETTINGS
@given(table=good_tables(), suffix=st.sampled_from([".csv", ".tsv", ".jsonl", ".json"]),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-32"]))
def test_valid_files_are_accepted_in_every_format_and_unicode_encoding(table, suffix, encoding):
    frame, labels = table
    columns = _columns(frame)
    if suffix == ".jsonl":
        text = "\n".join(json.dumps(r) for r in frame.to_dict("records"))
    elif suffix == ".json":
        text = json.dumps(frame.to_dict("records"))
    else:
        text = frame.to_csv(index=False, sep="\t" if suffix == ".tsv" else ",")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"data{suffix}"
        path.write_bytes(text.encode(encoding))
        task = load_task(path, **columns)
    check_loaded(task, frame, labels, text_column=columns["text_column"],
                 pair_column=columns["pair_column"])


def test_examples_that_used_to_slip_through(tmp_path):
    """Cases the properties above found, kept as plain examples."""
    with pytest.raises(DataError, match="appears 2 times"):
        load_task(pd.DataFrame([["a", "x", 0], ["b", "y", 1]], columns=["text", "text", "label"]))
    with pytest.raises(DataError, match="lone surrogate"):
        load_task(pd.DataFrame({"text": pd.Series(["ok", "bad \ud800"], dtype=object),
                                "label": [0, 1]}))
    escaped = tmp_path / "escaped.jsonl"
    escaped.write_text('{"text": "fine", "label": 0}\n{"text": "bad \\ud800", "label": 1}\n')
    with pytest.raises(DataError, match="escaped.jsonl: line 2 .*lone surrogate"):
        load_task(escaped)
    huge = load_task(pd.DataFrame({"text": ["a", "b"], "label": [2**70, 3]}))
    assert huge.label_names == ["3", str(2**70)] and huge.labels.tolist() == [1, 0]
    big_floats = load_task(pd.DataFrame({"text": ["a", "b", "c"], "label": [1e300, 2e300, 1e300]}))
    assert big_floats.task_type is TaskType.REGRESSION  # not wrapped into garbage class ids
    with pytest.raises(LabelError, match="missing"):
        load_task(pd.DataFrame({"text": ["a", "b"], "label": [np.float32("nan"), 1.0]}))
    bom = tmp_path / "excel.csv"
    bom.write_bytes("text,label\nok,1\nno,0\n".encode("utf-8-sig"))
    assert load_task(bom).texts == ["ok", "no"]
    utf16 = tmp_path / "excel.tsv"
    utf16.write_bytes("text\tlabel\nok\t1\nno\t0\n".encode("utf-16"))
    assert load_task(utf16).texts == ["ok", "no"]
