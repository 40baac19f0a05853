"""SQLite index of a hub's ESM folders. The folders are the truth; this is rebuilt from them."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..esm.block import StepstoneBlock
from ..esm.config import ESMConfig

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS esms (
    id TEXT PRIMARY KEY,
    base_model TEXT NOT NULL,
    task_name TEXT NOT NULL,
    task_id TEXT NOT NULL,
    task_type TEXT,
    num_classes INTEGER,
    num_examples INTEGER,
    dim INTEGER,
    fit_cosine REAL,
    fit_mse REAL,
    signature TEXT NOT NULL,
    config TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS esms_base_model ON esms(base_model);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""


@dataclass(frozen=True)
class HubEntry:
    """One catalogued ESM: its id, folder and the fields ranking and filtering need."""

    id: str
    path: Path
    base_model: str
    task_name: str
    task_id: str
    task_type: str | None
    num_classes: int | None
    num_examples: int | None
    dim: int | None
    fit_cosine: float | None
    fit_mse: float | None
    config: dict[str, Any]

    @property
    def block(self) -> StepstoneBlock:
        """The config's ``"stepstone"`` block, typed."""
        return StepstoneBlock.of(self.config)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["path"] = str(self.path)
        return out

    @classmethod
    def from_config(cls, esm_id: str, path: Path, config: ESMConfig) -> HubEntry:
        block = config.stepstone
        return cls(id=esm_id, path=path, base_model=config.base_model_name,
                   task_name=config.task_name, task_id=config.task_id,
                   task_type=block.get("task_type"), num_classes=block.get("num_classes"),
                   num_examples=config.num_examples, dim=config.esm_embedding_dim,
                   fit_cosine=block.get("fit", {}).get("cosine"),
                   fit_mse=block.get("fit", {}).get("mse"), config=config.to_dict())


class Catalog:
    """Thin wrapper over one SQLite file (or ``:memory:`` for read-only hubs)."""

    def __init__(self, location: str | Path) -> None:
        self.location = str(location)
        self._conn = sqlite3.connect(self.location, timeout=60.0, isolation_level=None)
        self._conn.execute("PRAGMA busy_timeout = 60000")
        with self.transaction():
            for statement in filter(str.strip, _SCHEMA.split(";")):
                self._conn.execute(statement)
            self._conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)",
                               (str(SCHEMA_VERSION),))

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE``: one writer at a time across processes; rolled back on error."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def upsert(self, entry: HubEntry, signature: str, conn: sqlite3.Connection | None = None
               ) -> None:
        row = (entry.id, entry.base_model, entry.task_name, entry.task_id, entry.task_type,
               entry.num_classes, entry.num_examples, entry.dim, entry.fit_cosine, entry.fit_mse,
               signature, json.dumps(entry.config))
        (conn or self._conn).execute(
            "INSERT OR REPLACE INTO esms VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)

    def delete(self, ids: Iterable[str], conn: sqlite3.Connection | None = None) -> None:
        (conn or self._conn).executemany("DELETE FROM esms WHERE id = ?", [(i,) for i in ids])

    def signatures(self) -> dict[str, str]:
        return dict(self._conn.execute("SELECT id, signature FROM esms"))

    def query(self, where: str = "", params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        self._conn.row_factory = sqlite3.Row
        try:
            return list(self._conn.execute(f"SELECT * FROM esms {where} ORDER BY id", params))
        finally:
            self._conn.row_factory = None


def entry_from_row(row: sqlite3.Row, root: Path) -> HubEntry:
    return HubEntry(id=row["id"], path=root / row["id"], base_model=row["base_model"],
                    task_name=row["task_name"], task_id=row["task_id"],
                    task_type=row["task_type"], num_classes=row["num_classes"],
                    num_examples=row["num_examples"], dim=row["dim"],
                    fit_cosine=row["fit_cosine"], fit_mse=row["fit_mse"],
                    config=json.loads(row["config"]))
