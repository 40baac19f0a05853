"""Load a target or source dataset from a file, a pool folder, a DataFrame or the Hugging Face Hub.

``load_task`` is the one entry point: it finds the format, reads the rows, picks the columns,
validates texts and labels and draws the requested sample.
"""

from __future__ import annotations

import codecs
import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from .._env import dataset_pool_dirs
from ..errors import ColumnNotFoundError, DataError, DatasetNotFoundError, LabelError
from .task import TaskData, TaskOrigin, TaskType
from .validate import clean_texts, encode_labels

logger = logging.getLogger(__name__)

TEXT_COLUMNS = ("text", "sentence", "sentence1", "question", "premise", "content", "review")
LABEL_COLUMNS = ("label", "labels", "score", "target", "class", "y")
PAIR_FOR_TEXT = {"text": "text_pair", "sentence1": "sentence2", "premise": "hypothesis",
                 "question": "answer"}
FILE_KINDS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl",
              ".json": "json", ".parquet": "parquet", ".pq": "parquet"}
_COMPRESSED = (".gz", ".bz2", ".xz", ".zip", ".zst")


def load_task(
    source: str | os.PathLike | TaskData | Any,
    *,
    text_column: str | None = None,
    pair_column: str | None = None,
    label_column: str | None = None,
    task_type: TaskType | str | None = None,
    split: str | None = None,
    subset: str | None = None,
    num_examples: int | None = None,
    seed: int = 42,
    name: str | None = None,
) -> TaskData:
    """Load and validate a labelled text dataset.

    Args:
        source: a CSV/TSV/JSONL/JSON/Parquet file; a pool folder (``task.json`` + split files, as
            in ``../shared/datasets``) or its bare name; a folder holding ``<split>.<ext>`` files;
            a pandas DataFrame; a TaskData; or a Hugging Face dataset id (loaded with ``datasets``).
        text_column, pair_column, label_column: column names; guessed when omitted (``text``,
            ``sentence``... / ``text_pair``... / ``label``, ``score``...).
        task_type: ``classification`` or ``regression``; inferred from the labels when omitted.
        split: split to read from a pool folder or the Hub (default ``train``).
        subset: Hugging Face dataset configuration.
        num_examples, seed: draw a seeded random sample of this size.
        name: name to record (default: the file stem, pool name or dataset id).

    Raises:
        DatasetNotFoundError, ColumnNotFoundError, LabelError, EmptyTextError, DataError.
    """
    if isinstance(source, TaskData):
        task = source
        if task_type is not None and TaskType.parse(task_type) is not task.task_type:
            raise DataError(f"task {task.name!r} is {task.task_type}, not {task_type}")
    elif _is_dataframe(source):
        task = task_from_frame(source, name=name or "dataframe", where="DataFrame",
                               origin=TaskOrigin(), text_column=text_column,
                               pair_column=pair_column, label_column=label_column,
                               task_type=task_type)
    else:
        task = _load_from_location(str(os.fspath(source)), text_column=text_column,
                                   pair_column=pair_column, label_column=label_column,
                                   task_type=task_type, split=split, subset=subset, name=name)
    sampled = task.sample(num_examples, seed=seed)
    if not sampled.is_regression and np.unique(sampled.labels).size < 2:
        raise LabelError(
            f"{task.origin.location}: the sample of {num_examples} examples (seed {seed}) holds a "
            "single class; use a larger --num-examples or another seed."
        )
    return sampled


def task_name(source: str | os.PathLike) -> str:
    """The name ``load_task(source)`` gives a dataset, without reading its rows."""
    location = str(os.fspath(source))
    path = Path(location).expanduser()
    pool = path if (path / "task.json").is_file() else _find_in_pool(location)
    if pool is not None:
        try:
            meta = json.loads((pool / "task.json").read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            return pool.name
        name = meta.get("name") if isinstance(meta, dict) else None
        return name if isinstance(name, str) and name else pool.name
    if path.is_dir():
        return path.name
    if path.is_file():
        return path.name.split(".")[0]
    return location


def _is_dataframe(obj: Any) -> bool:
    return type(obj).__name__ == "DataFrame" and hasattr(obj, "columns")


def _load_from_location(location: str, *, split: str | None, subset: str | None,
                        name: str | None, **columns: Any) -> TaskData:
    path = Path(location).expanduser()
    if path.is_dir():
        if (path / "task.json").is_file():
            return _load_pool_folder(path, split=split, name=name, **columns)
        return _load_split_folder(path, split=split, name=name, **columns)
    if path.is_file():
        return _load_file(path, name=name, **columns)
    pool = _find_in_pool(location)
    if pool is not None:
        return _load_pool_folder(pool, split=split, name=name, **columns)
    if _looks_like_path(location):
        raise DatasetNotFoundError(_not_found_message(location))
    return _load_hf(location, split=split, subset=subset, name=name, **columns)


def _not_found_message(location: str) -> str:
    message = f"dataset {location!r} not found: no such file or folder."
    if "shared" in location:
        message += (
            " The shared dataset pool is not next to this checkout. Point stepstone at a dataset "
            "of your own instead, e.g. `stepstone rank my_data.csv --text-column text "
            "--label-column label` (CSV, TSV, JSONL, Parquet or a Hugging Face dataset id), or "
            "set STEPSTONE_DATASETS to a folder of pool datasets."
        )
    return message


def _looks_like_path(location: str) -> bool:
    suffixes = [s.lower() for s in Path(location).suffixes]
    return (
        location.startswith((".", "/", "~"))
        or any(s in FILE_KINDS or s in _COMPRESSED for s in suffixes)
        or location.count("/") > 1
        or os.sep != "/" and os.sep in location
    )


def _find_in_pool(name: str) -> Path | None:
    if "/" in name or os.sep in name:
        return None
    for folder in dataset_pool_dirs():
        candidate = folder / name
        if (candidate / "task.json").is_file():
            return candidate
    return None


def _file_kind(path: Path) -> str | None:
    suffixes = [s.lower() for s in path.suffixes]
    while suffixes and suffixes[-1] in _COMPRESSED:
        suffixes.pop()
    return FILE_KINDS.get(suffixes[-1]) if suffixes else None


# --- readers ------------------------------------------------------------------------------------


def read_table(path: Path) -> Any:
    """Read a data file into a DataFrame; texts in CSV/TSV stay strings (no number parsing)."""
    import pandas as pd

    kind = _file_kind(path)
    if kind is None:
        raise DataError(
            f"{path}: unknown file type {''.join(path.suffixes) or '(none)'}; use one of "
            f"{', '.join(sorted(FILE_KINDS))} (optionally compressed)."
        )
    encoding = "utf-8"
    try:
        if kind == "parquet":
            return pd.read_parquet(path)
        encoding = text_encoding(path)
        if kind in ("csv", "tsv"):
            return pd.read_csv(path, sep="\t" if kind == "tsv" else ",", dtype=str,
                               keep_default_na=False, encoding=encoding)
        if kind == "jsonl":
            return pd.DataFrame.from_records(_read_jsonl(path, encoding))
        return _read_json(path, encoding)
    except UnicodeError as err:
        where = f" ({err.reason} at byte {err.start})" if isinstance(err, UnicodeDecodeError) \
            else ""
        raise DataError(f"{path}: not valid {encoding.upper()} text{where}; re-save the file as "
                        "UTF-8.") from err
    except DataError:
        raise
    except Exception as err:  # pandas/pyarrow parse errors have many types
        raise DataError(f"{path}: cannot be read as {kind}: {err}") from err


_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16"))


def text_encoding(path: Path) -> str:
    """UTF-8, or the UTF-8/16/32 encoding that the file's byte-order mark announces (Excel
    writes CSV with a UTF-8 BOM and "Unicode text" as UTF-16)."""
    import pandas as pd

    with pd.io.common.get_handle(path, "rb", compression="infer", is_text=False) as handle:
        head = handle.handle.read(4)
    return next((name for bom, name in _BOMS if head.startswith(bom)), "utf-8")


def _read_jsonl(path: Path, encoding: str = "utf-8") -> list[dict[str, Any]]:
    import pandas as pd

    with pd.io.common.get_handle(path, "r", encoding=encoding, compression="infer") as handle:
        rows = []
        for line_no, line in enumerate(handle.handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataError(f"{path}: line {line_no} is not valid JSON ({err.msg}).") from err
            if not isinstance(row, dict):
                raise DataError(f"{path}: line {line_no} is a JSON {type(row).__name__}, "
                                "expected an object with one key per column.")
            rows.append(row)
    return rows


def _read_json(path: Path, encoding: str = "utf-8") -> Any:
    import pandas as pd

    with pd.io.common.get_handle(path, "r", encoding=encoding, compression="infer") as handle:
        text = handle.handle.read()
    try:
        data = json.loads(text)
    except json.JSONDecodeError:  # maybe JSON lines saved as .json
        return pd.DataFrame.from_records(_read_jsonl(path, encoding))
    if isinstance(data, dict):  # {"data": [...]} or column-oriented
        records = next((v for v in data.values() if isinstance(v, list) and v
                        and all(isinstance(r, dict) for r in v)), None)
        return pd.DataFrame.from_records(records) if records is not None else pd.DataFrame(data)
    if isinstance(data, list) and all(isinstance(r, dict) for r in data):
        return pd.DataFrame.from_records(data)
    raise DataError(f"{path}: expected a JSON list of objects (one per row).")


def _load_file(path: Path, *, name: str | None, **columns: Any) -> TaskData:
    frame = read_table(path)
    kind = _file_kind(path) or "file"
    stem = path.name.split(".")[0]
    origin = TaskOrigin(location=str(path), kind=kind)
    return task_from_frame(frame, name=name or stem, where=str(path), origin=origin, **columns)


def _load_split_folder(path: Path, *, split: str | None, name: str | None,
                       **columns: Any) -> TaskData:
    split = split or "train"
    files = sorted(p for p in path.iterdir() if p.name.split(".")[0] == split and _file_kind(p))
    if not files:
        raise DatasetNotFoundError(
            f"{path}: folder has no task.json and no {split}.<csv|tsv|jsonl|json|parquet> file; "
            "point stepstone at a data file or a pool folder."
        )
    task = _load_file(files[0], name=name or path.name, **columns)
    return task


def _load_pool_folder(path: Path, *, split: str | None, name: str | None,
                      **columns: Any) -> TaskData:
    """A folder of ../shared/datasets: task.json plus <split>.jsonl files."""
    meta_path = path / "task.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as err:
        raise DataError(f"{meta_path}: unreadable task description ({err}).") from err
    _check_pool_meta(meta, meta_path)
    split = split or "train"
    data_path = path / f"{split}.jsonl"
    if not data_path.is_file():
        available = sorted(p.stem for p in path.glob("*.jsonl"))
        raise DatasetNotFoundError(
            f"{path}: no split {split!r}; available splits: {', '.join(available) or 'none'}."
        )
    frame = read_table(data_path)
    is_pair = bool(meta.get("is_pair"))
    pair_default = "text_pair" if is_pair else None
    origin = TaskOrigin(location=str(path), kind="pool", split=split)
    return task_from_frame(
        frame,
        name=name or meta.get("name", path.name),
        where=str(data_path),
        origin=origin,
        text_column=columns.get("text_column") or "text",
        pair_column=columns.get("pair_column") or pair_default,
        label_column=columns.get("label_column") or "label",
        task_type=columns.get("task_type") or meta.get("task_type"),
        label_names=meta.get("label_names"),
    )


def _check_pool_meta(meta: Any, path: Path) -> None:
    """task.json must be an object whose fields have the types the loader relies on."""
    if not isinstance(meta, dict):
        raise DataError(f"{path}: expected a JSON object, got {type(meta).__name__}.")
    names = meta.get("label_names")
    if names is not None and not (isinstance(names, list) and names
                                  and all(isinstance(n, str) for n in names)):
        raise DataError(f"{path}: 'label_names' must be a list of strings (got {names!r:.60}).")
    if meta.get("task_type") is not None:
        TaskType.parse(str(meta["task_type"]))
    if meta.get("name") is not None and not isinstance(meta["name"], str):
        raise DataError(f"{path}: 'name' must be a string (got {meta['name']!r:.60}).")


def _load_hf(dataset_id: str, *, split: str | None, subset: str | None, name: str | None,
             **columns: Any) -> TaskData:
    """A Hugging Face dataset id, through ``datasets.load_dataset`` (cache first when offline)."""
    try:
        import datasets
    except ImportError as err:  # pragma: no cover - datasets is a dependency
        raise DatasetNotFoundError(f"{dataset_id!r} is not a local file and `datasets` is missing")
    split = split or "train"
    try:
        hf = datasets.load_dataset(dataset_id, subset, split=split)
    except Exception as err:  # network, missing repo, missing split: one clear message
        raise DatasetNotFoundError(
            f"dataset {dataset_id!r} is not a local file or folder and could not be loaded from "
            f"the Hugging Face Hub (split {split!r}{f', subset {subset!r}' if subset else ''}): "
            f"{err}. Check the path or id; offline, only datasets in the local HF cache load."
        ) from err
    label_names = None
    label_col = columns.get("label_column") or next(
        (c for c in LABEL_COLUMNS if c in hf.column_names), None)
    feature = hf.features.get(label_col) if label_col else None
    if feature is not None and hasattr(feature, "names"):
        label_names = list(feature.names)
        hf = hf.filter(lambda row: row[label_col] != -1)  # -1 = unlabelled in HF ClassLabel sets
    origin = TaskOrigin(location=dataset_id, kind="hf", split=split, subset=subset)
    full_name = name or (f"{dataset_id}:{subset}" if subset else dataset_id)
    return task_from_frame(hf.to_pandas(), name=full_name, where=f"hf:{dataset_id}",
                           origin=origin, label_names=label_names, **columns)


# --- columns -> TaskData -----------------------------------------------------------------------


def _pick(frame_columns: list[str], given: str | None, candidates: tuple[str, ...], *,
          role: str, where: str, option: str) -> str:
    if given is not None:
        if given not in frame_columns:
            raise ColumnNotFoundError(
                f"{where}: no {role} column {given!r}; columns are {frame_columns}. "
                f"Pass the right name with {option}."
            )
        return given
    for candidate in candidates:
        if candidate in frame_columns:
            return candidate
    raise ColumnNotFoundError(
        f"{where}: cannot tell which column holds the {role} (looked for "
        f"{', '.join(candidates)}); columns are {frame_columns}. Pass it with {option}."
    )


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
