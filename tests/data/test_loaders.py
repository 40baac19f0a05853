from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from stepstone.data import TaskType, load_task
from stepstone.errors import (ColumnNotFoundError, DataError, DatasetNotFoundError,
                              EmptyTextError, InvalidOptionError, LabelError)
from tests.helpers import SHARED_DATASETS, requires_shared, write_pool_task


def _frame(n: int = 12) -> pd.DataFrame:
    return pd.DataFrame({"sentence": [f"text number {i}" for i in range(n)],
                         "label": ["pos" if i % 3 else "neg" for i in range(n)]})


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".json", ".parquet", ".csv.gz"])
def test_every_file_format_gives_the_same_task(tmp_path, suffix):
    frame = _frame()
    path = tmp_path / f"data{suffix}"
    if suffix.startswith(".csv"):
        frame.to_csv(path, index=False)
    elif suffix == ".tsv":
        frame.to_csv(path, sep="\t", index=False)
    elif suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True)
    elif suffix == ".json":
        frame.to_json(path, orient="records")
    else:
        frame.to_parquet(path)
    task = load_task(path)
    assert task.name == "data"
    assert task.texts == frame["sentence"].tolist()
    assert task.task_type is TaskType.CLASSIFICATION
    assert task.label_names == ["neg", "pos"]  # string labels mapped to ids, sorted
    assert task.labels.tolist() == [0 if y == "neg" else 1 for y in frame["label"]]
    assert task.origin.text_column == "sentence" and task.origin.label_column == "label"


def test_pool_folder_reads_task_json(tmp_path):
    rows = [{"text": f"a{i}", "text_pair": f"b{i}", "label": i % 3} for i in range(9)]
    folder = write_pool_task(tmp_path, "pairs", rows, label_names=["x", "y", "z"], is_pair=True)
    task = load_task(folder)
    assert task.name == "pairs" and task.is_pair
    assert task.text_pairs[:2] == ["b0", "b1"]
    assert task.label_names == ["x", "y", "z"]
    assert task.origin.kind == "pool" and task.origin.split == "train"
    with pytest.raises(DatasetNotFoundError, match="available splits: train"):
        load_task(folder, split="test")


def test_pool_task_by_bare_name(tmp_path, monkeypatch):
    write_pool_task(tmp_path, "mytask", [{"text": "a", "label": 0}, {"text": "b", "label": 1}])
    monkeypatch.setenv("STEPSTONE_DATASETS", str(tmp_path))
    assert load_task("mytask").name == "mytask"


def test_pool_task_metadata_by_name(tmp_path, monkeypatch):
    from stepstone.data.loaders import pool_task_meta

    rows = [{"text": "a", "text_pair": "b", "label": 0}]
    write_pool_task(tmp_path, "pairs", rows, is_pair=True)
    write_pool_task(tmp_path, "single", [{"text": "a", "label": 0}])
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "task.json").write_text('{"label_names": "pos"}')
    monkeypatch.setenv("STEPSTONE_DATASETS", str(tmp_path))
    assert pool_task_meta("pairs")["is_pair"] is True
    assert pool_task_meta("single")["is_pair"] is False
    assert pool_task_meta("absent") is None
    with pytest.raises(DataError, match="broken/task.json: 'label_names' must be a list"):
        pool_task_meta("broken")


def test_csv_numbers_stay_text_and_numeric_labels_are_parsed(tmp_path):
    path = tmp_path / "nums.csv"
    path.write_text("text,label\n123,0.5\n0042,1.25\nhello,3.0\n")
    task = load_task(path)
    assert task.texts == ["123", "0042", "hello"]
    assert task.task_type is TaskType.REGRESSION
    np.testing.assert_allclose(task.labels, [0.5, 1.25, 3.0])


def test_task_type_inference_and_override(tmp_path):
    path = tmp_path / "ints.csv"
    path.write_text("text,label\n" + "".join(f"t{i},{i % 5 + 1}\n" for i in range(20)))
    task = load_task(path)
    assert task.task_type is TaskType.CLASSIFICATION
    assert task.label_names == ["1", "2", "3", "4", "5"]  # ids 0..4 for labels 1..5
    as_regression = load_task(path, task_type="regression")
    assert as_regression.is_regression and as_regression.labels.max() == 5.0
    with pytest.raises(InvalidOptionError, match="classification, regression"):
        load_task(path, task_type="ranking")


def test_pair_column_guessed_only_for_known_pairs(tmp_path):
    path = tmp_path / "nli.jsonl"
    rows = [{"premise": f"p{i}", "hypothesis": f"h{i}", "label": i % 2} for i in range(4)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    task = load_task(path)
    assert task.texts[0] == "p0" and task.text_pairs[0] == "h0"


def test_sampling_is_seeded_and_keeps_file_order(tmp_path):
    path = tmp_path / "big.csv"
    _frame(200).to_csv(path, index=False)
    a = load_task(path, num_examples=50, seed=1)
    b = load_task(path, num_examples=50, seed=1)
    c = load_task(path, num_examples=50, seed=2)
    assert a.texts == b.texts != c.texts
    positions = [int(t.split()[-1]) for t in a.texts]
    assert positions == sorted(positions) and len(a) == 50
    assert a.origin.total_examples == 200 and a.origin.num_examples == 50
    assert len(load_task(path, num_examples=10_000)) == 200


# --- bad input: every error names the file and the column --------------------------------------


def test_missing_file_says_how_to_use_your_own_data():
    with pytest.raises(DatasetNotFoundError, match="not found.*my_data.csv"):
        load_task("../shared/datasets/does_not_exist")
    with pytest.raises(DatasetNotFoundError, match="nope.csv"):
        load_task("nope.csv")


def test_missing_column_lists_the_columns(tmp_path):
    path = tmp_path / "d.csv"
    _frame().to_csv(path, index=False)
    with pytest.raises(ColumnNotFoundError, match=r"d\.csv.*'review'.*\['sentence', 'label'\]"):
        load_task(path, text_column="review")
    path2 = tmp_path / "odd.csv"
    path2.write_text("body,y2\nhello,1\nbye,0\n")
    with pytest.raises(ColumnNotFoundError, match="--text-column"):
        load_task(path2)


def test_empty_dataset(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("text,label\n")
    with pytest.raises(DataError, match="empty.csv.*empty"):
        load_task(path)
    path.write_text("")
    with pytest.raises(DataError, match="empty.csv: the file is empty"):
        load_task(path)


@pytest.mark.parametrize("suffix, sep", [(".csv", ","), (".tsv", "\t")])
def test_repeated_header_is_an_error_not_a_silent_rename(tmp_path, suffix, sep):
    path = tmp_path / f"dup{suffix}"
    path.write_text(sep.join(["text", "text", "label"]) + "\n" + sep.join(["a", "b", "0"]) + "\n")
    with pytest.raises(DataError, match=r"dup.*\['text'\] more than once"):
        load_task(path)


def test_one_class(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("text,label\na,pos\nb,pos\n")
    with pytest.raises(LabelError, match="one.csv.*'label'.*only one class"):
        load_task(path)


def test_sample_with_a_single_class_is_an_error(tmp_path):
    path = tmp_path / "skewed.csv"
    path.write_text("text,label\n" + "".join(f"t{i},{int(i == 0)}\n" for i in range(50)))
    with pytest.raises(LabelError, match="single class"):
        load_task(path, num_examples=2, seed=3)


def test_missing_labels_name_the_rows(tmp_path):
    path = tmp_path / "nan.jsonl"
    rows = [{"text": "a", "label": 1}, {"text": "b", "label": None}, {"text": "c", "label": 0},
            {"text": "d", "label": float("nan")}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows).replace("NaN", "NaN"))
    with pytest.raises(LabelError, match=r"nan.jsonl.*'label'.*2 missing.*rows 2, 4"):
        load_task(path)


def test_mixed_label_types(tmp_path):
    path = tmp_path / "mixed.jsonl"
    rows = [{"text": "a", "label": 1}, {"text": "b", "label": "pos"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(LabelError, match="mixed.jsonl.*mixes label types.*int.*str"):
        load_task(path)


def test_empty_and_non_string_texts(tmp_path):
    path = tmp_path / "texts.jsonl"
    rows = [{"text": "ok", "label": 0}, {"text": "  ", "label": 1}, {"text": "", "label": 1}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(EmptyTextError, match=r"texts.jsonl.*'text'.*rows 2, 3"):
        load_task(path)
    path.write_text(json.dumps({"text": 5, "label": 0}) + "\n" + json.dumps(
        {"text": "x", "label": 1}) + "\n")
    with pytest.raises(EmptyTextError, match="must hold strings.*int"):
        load_task(path)


def test_broken_files(tmp_path):
    bad_json = tmp_path / "bad.jsonl"
    bad_json.write_text('{"text": "a", "label": 1}\n{"text": \n')
    with pytest.raises(DataError, match="bad.jsonl: line 2 is not valid JSON"):
        load_task(bad_json)
    latin = tmp_path / "latin.csv"
    latin.write_bytes("text,label\ncaf\xe9,1\nbar,0\n".encode("latin-1"))
    with pytest.raises(DataError, match="latin.csv: not valid UTF-8"):
        load_task(latin)
    unknown = tmp_path / "data.xlsx"
    unknown.write_text("x")
    with pytest.raises(DataError, match="unknown file type"):
        load_task(unknown)


def test_regression_with_constant_labels(tmp_path):
    path = tmp_path / "flat.csv"
    path.write_text("text,label\na,0.5\nb,0.5\n")
    with pytest.raises(LabelError, match="every label.*equals 0.5"):
        load_task(path)


# --- Hugging Face ids go through datasets.load_dataset ------------------------------------------


@pytest.fixture
def hub_reachable(monkeypatch):
    """Pretend the Hub answers, so that an id goes on to (the faked) datasets.load_dataset."""
    monkeypatch.setattr("stepstone.data.loaders.hub_unreachable", lambda: None)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)


def test_hugging_face_id_uses_datasets(monkeypatch, hub_reachable):
    import datasets

    calls = {}

    def fake_load_dataset(name, subset=None, split=None):
        calls.update(name=name, subset=subset, split=split)
        features = datasets.Features({"text": datasets.Value("string"),
                                      "label": datasets.ClassLabel(names=["neg", "pos"])})
        return datasets.Dataset.from_dict({"text": ["a", "b", "c"], "label": [0, 1, -1]},
                                          features=features)

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    task = load_task("someone/reviews", subset="en", split="validation")
    assert calls == {"name": "someone/reviews", "subset": "en", "split": "validation"}
    assert task.label_names == ["neg", "pos"] and len(task) == 2  # -1 (unlabelled) dropped
    assert task.name == "someone/reviews:en" and task.origin.kind == "hf"


def test_hugging_face_failure_is_a_clear_error(monkeypatch, hub_reachable):
    import datasets

    def offline(*args, **kwargs):
        raise ConnectionError("offline")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(DatasetNotFoundError, match="could not be loaded from the Hugging Face"):
        load_task("someone/unknown")


@requires_shared
def test_shared_pool_task():
    task = load_task(SHARED_DATASETS / "stsb", num_examples=100)
    assert task.is_regression and task.is_pair and len(task) == 100
    assert task.fingerprint == load_task(SHARED_DATASETS / "stsb", num_examples=100).fingerprint
