"""Load a target or source dataset from a file, a pool folder, a DataFrame or the Hugging Face Hub.

``load_task`` is the one entry point: it finds the format, reads the rows, picks the columns,
validates texts and labels and draws the requested sample.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from .._env import dataset_pool_dirs, hf_offline
from ..errors import DataError, DatasetNotFoundError, LabelError
from .frames import LABEL_COLUMNS, task_from_frame
from .lookup import (did_you_mean, hub_endpoint, hub_unreachable, maybe_cached, offline_hub,
                     suggestions)
from .readers import COMPRESSED, FILE_KINDS, file_kind, read_table
from .task import TaskData, TaskOrigin, TaskType

logger = logging.getLogger(__name__)



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
    offline = _check_missing(location)
    return _load_hf(location, split=split, subset=subset, name=name, offline=offline,
                    **columns)


def check_location(source: str | os.PathLike | Any) -> None:
    """Fail now, cheaply (before torch or ``datasets`` is imported), where :func:`load_task`
    would not find ``source``: a typo of a pool task or file, a path that does not exist, or
    a Hub id that is not cached while offline or while the Hub cannot be reached."""
    if not isinstance(source, str | os.PathLike):
        return
    location = str(os.fspath(source))
    if Path(location).expanduser().exists() or _find_in_pool(location) is not None:
        return
    _check_missing(location)


def _check_missing(location: str) -> bool:
    """For a location that is no file, folder or pool task: raise unless it may be a Hub id
    that can be loaded; returns whether the Hub must be treated as offline."""
    close = suggestions(location)  # a typo of a pool task or a local file: no Hub look-up
    if _looks_like_path(location) or close:
        raise DatasetNotFoundError(_not_found_message(location, close))
    offline = hf_offline() or os.environ.get("HF_DATASETS_OFFLINE", "").strip().upper() in {
        "1", "ON", "YES", "TRUE"}
    unreachable = None if offline else hub_unreachable()
    if (offline or unreachable) and not maybe_cached(location):
        why = ("offline mode is set (HF_HUB_OFFLINE)" if offline else
               f"the Hugging Face Hub ({hub_endpoint()}) cannot be reached ({unreachable})")
        raise DatasetNotFoundError(
            f"dataset {location!r} is not a local file, folder or pool task; {why}, and it is "
            "not in the local Hugging Face cache. Check the name, or point stepstone at a file: "
            "`stepstone rank my_data.csv --text-column text --label-column label`.")
    return offline or unreachable is not None


def _not_found_message(location: str, close: list[str]) -> str:
    message = f"dataset {location!r} not found: no such file or folder."
    if close:
        message = (f"dataset {location!r} not found: no such file, folder or pool task."
                   f"{did_you_mean(close)}")
        if not _looks_like_path(location) and not any(Path(c).exists() for c in close):
            message += (" (For a Hugging Face dataset of that name, give its full id, "
                        "owner/name.)")
    elif "shared" in location:
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
        or any(s in FILE_KINDS or s in COMPRESSED for s in suffixes)
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


def _load_file(path: Path, *, name: str | None, **columns: Any) -> TaskData:
    frame = read_table(path)
    kind = file_kind(path) or "file"
    stem = path.name.split(".")[0]
    origin = TaskOrigin(location=str(path), kind=kind)
    return task_from_frame(frame, name=name or stem, where=str(path), origin=origin, **columns)


def _load_split_folder(path: Path, *, split: str | None, name: str | None,
                       **columns: Any) -> TaskData:
    split = split or "train"
    files = sorted(p for p in path.iterdir() if p.name.split(".")[0] == split and file_kind(p))
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
    meta = read_pool_meta(path)
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


def read_pool_meta(folder: str | os.PathLike) -> dict[str, Any]:
    """A pool folder's ``task.json`` (name, task_type, label_names, is_pair, ...), checked;
    DataError naming the file when it is unreadable or malformed."""
    meta_path = Path(folder) / "task.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as err:
        raise DataError(f"{meta_path}: unreadable task description ({err}).") from err
    _check_pool_meta(meta, meta_path)
    return meta


def pool_task_meta(name: str) -> dict[str, Any] | None:
    """The ``task.json`` of the pool task ``name`` (see :func:`read_pool_meta`); None when no
    dataset pool holds it."""
    folder = _find_in_pool(name)
    return read_pool_meta(folder) if folder is not None else None


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
             offline: bool = False, **columns: Any) -> TaskData:
    """A Hugging Face dataset id, through ``datasets.load_dataset`` (cache first when offline)."""
    try:
        import datasets
    except ImportError as err:  # pragma: no cover - datasets is a dependency
        raise DatasetNotFoundError(
            f"{dataset_id!r} is not a local file and `datasets` is missing") from err
    split = split or "train"
    try:
        with offline_hub() if offline else contextlib.nullcontext():
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
