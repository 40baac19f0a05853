"""Read data files (CSV, TSV, JSONL, JSON, Parquet; compressed or not) into DataFrames."""

from __future__ import annotations

import codecs
import json
from pathlib import Path
from typing import Any

from ..errors import DataError

FILE_KINDS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl",
              ".json": "json", ".parquet": "parquet", ".pq": "parquet"}
COMPRESSED = (".gz", ".bz2", ".xz", ".zip", ".zst")


def file_kind(path: Path) -> str | None:
    suffixes = [s.lower() for s in path.suffixes]
    while suffixes and suffixes[-1] in COMPRESSED:
        suffixes.pop()
    return FILE_KINDS.get(suffixes[-1]) if suffixes else None


def read_table(path: Path) -> Any:
    """Read a data file into a DataFrame; texts in CSV/TSV stay strings (no number parsing)."""
    import pandas as pd

    kind = file_kind(path)
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
            return _read_delimited(path, sep="\t" if kind == "tsv" else ",", encoding=encoding)
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


def _read_delimited(path: Path, *, sep: str, encoding: str) -> Any:
    import pandas as pd

    try:  # header=None: read the header as a row, so that repeated names can be seen
        rows = pd.read_csv(path, sep=sep, header=None, dtype=str, keep_default_na=False,
                           encoding=encoding)
    except pd.errors.EmptyDataError as err:
        raise DataError(f"{path}: the file is empty (no header row, no data).") from err
    header = rows.iloc[0].tolist()
    # pandas would silently rename a repeated header to 'text.1': which one is meant is unknowable
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise DataError(f"{path}: the header names column(s) {repeated} more than once; give "
                        "every column a distinct name.")
    return pd.DataFrame(rows.iloc[1:].to_numpy(), columns=header)


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
            if "\\u" in line:  # only an escape can smuggle in a lone surrogate
                _check_encodable(row, where=f"{path}: line {line_no}")
            rows.append(row)
    return rows


def _check_encodable(row: dict[str, Any], *, where: str) -> None:
    try:
        json.dumps(row, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as err:
        raise DataError(f"{where} holds text that is not valid Unicode (a lone surrogate such as "
                        "'\\ud800', often from a badly escaped JSON string); fix or drop that "
                        "line.") from err


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
