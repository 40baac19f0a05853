"""Hub: a folder of ESM folders plus a SQLite catalog rebuilt from them when they change."""

from __future__ import annotations

import fnmatch
import logging
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._io import TMP_PREFIX
from ..errors import ESMError, ESMExistsError, ESMNotFoundError, HubError
from ..esm.io import CONFIG_FILE, WEIGHTS_FILE, load_esm, read_config, save_esm
from ..esm.model import ESM
from .catalog import Catalog, HubEntry, entry_from_row

logger = logging.getLogger(__name__)

ESM_DIR = "esms"
CATALOG_FILE = "catalog.sqlite"
STATS_FILE = "source_stats.safetensors"
_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$")


def slugify(name: str) -> str:
    """A valid ESM id from any name: runs of other characters become '_'."""
    slug = re.sub(r"[^A-Za-z0-9._+-]+", "_", name).strip("._-")
    return slug[:200] or "esm"


@dataclass
class HubReport:
    """Result of :meth:`Hub.verify`: one line per problem, empty when the hub is sound."""

    checked: int = 0
    problems: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {"checked": self.checked, "ok": self.ok, "problems": self.problems,
                "repaired": self.repaired}


class Hub:
    """A hub of ESMs on disk.

    Layout: ``<root>/esms/<id>/{config.json, model.safetensors[, source_stats.safetensors]}`` and
    ``<root>/catalog.sqlite``. Every ESM folder appears atomically (written to a temporary sibling
    and renamed); the catalog is synchronised with the folders whenever the hub is opened, so a
    crash between the two never leaves them disagreeing for long. A hub in a read-only location
    keeps its catalog in memory.
    """

    def __init__(self, root: str | os.PathLike, *, create: bool = False) -> None:
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            if not create:
                raise HubError(f"no hub at {self.root}; build one with `stepstone build` or pass "
                               "another --hub")
            (self.root / ESM_DIR).mkdir(parents=True, exist_ok=True)
        self.esm_dir = self.root / ESM_DIR
        writable = os.access(self.root, os.W_OK)
        if create or writable:
            self.esm_dir.mkdir(exist_ok=True)
        location = self.root / CATALOG_FILE if writable else ":memory:"
        self.catalog = Catalog(location)
        #: folders whose config.json could not be read (id -> reason); ranking reports them
        self.broken: dict[str, str] = {}
        self._broken_signatures: dict[str, str] = {}
        self.sync()

    def __repr__(self) -> str:
        return f"Hub({str(self.root)!r}, {len(self)} ESMs)"

    def __len__(self) -> int:
        return len(self.catalog.signatures())

    def __contains__(self, esm_id: object) -> bool:
        return isinstance(esm_id, str) and (self.esm_dir / esm_id / CONFIG_FILE).is_file() \
            and esm_id in self.catalog.signatures()

    def close(self) -> None:
        self.catalog.close()

    # --- catalog synchronisation ----------------------------------------------------------------

    def _folders(self) -> dict[str, str]:
        """id -> signature (config mtime + weight size) of every complete ESM folder."""
        found = {}
        if not self.esm_dir.is_dir():
            return found
        for entry in os.scandir(self.esm_dir):
            if entry.name.startswith(TMP_PREFIX) or not entry.is_dir():
                continue
            config = Path(entry.path) / CONFIG_FILE
            weights = Path(entry.path) / WEIGHTS_FILE
            try:
                found[entry.name] = f"{config.stat().st_mtime_ns}:{weights.stat().st_size}"
            except OSError:
                continue  # incomplete folder: not an ESM (verify reports it)
        return found

    def sync(self) -> list[str]:
        """Bring the catalog in line with the folders; returns the ids that changed."""
        on_disk = self._folders()
        listed = self.catalog.signatures()
        self.broken = {i: why for i, why in self.broken.items() if i in on_disk}
        stale = [i for i in listed if i not in on_disk]
        changed = [i for i, sig in on_disk.items()
                   if listed.get(i) != sig and self._broken_signatures.get(i) != sig]
        if not stale and not changed:
            return []
        rows = []
        for esm_id in changed:
            try:
                config = read_config(self.esm_dir / esm_id)
            except ESMError as err:
                logger.warning("hub %s: skipping %s: %s", self.root, esm_id, err)
                self.broken[esm_id] = str(err)
                self._broken_signatures[esm_id] = on_disk[esm_id]
                if esm_id in listed:
                    stale.append(esm_id)
                continue
            self.broken.pop(esm_id, None)
            rows.append((HubEntry.from_config(esm_id, self.esm_dir / esm_id, config),
                         on_disk[esm_id]))
        with self.catalog.transaction() as conn:
            self.catalog.delete(stale, conn)
            for entry, signature in rows:
                self.catalog.upsert(entry, signature, conn)
        return stale + [e.id for e, _ in rows]

    def rebuild_catalog(self) -> int:
        """Drop the catalog and index every folder again; returns the number of ESMs."""
        with self.catalog.transaction() as conn:
            self.catalog.delete(list(self.catalog.signatures()), conn)
        self.sync()
        return len(self)

    # --- queries ----------------------------------------------------------------------------------

    def entries(self, *, base_model: str | None = None, task_type: str | None = None,
                min_examples: int | None = None, max_examples: int | None = None,
                name: str | None = None, ids: list[str] | None = None) -> list[HubEntry]:
        """Catalogued ESMs, filtered; ``name`` is a glob on the id or the task name."""
        clauses, params = [], []
        for column, value in (("base_model", base_model), ("task_type", task_type)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if min_examples is not None:
            clauses.append("num_examples >= ?")
            params.append(min_examples)
        if max_examples is not None:
            clauses.append("num_examples <= ?")
            params.append(max_examples)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        entries = [entry_from_row(r, self.esm_dir) for r in self.catalog.query(where, tuple(params))]
        if name is not None:
            entries = [e for e in entries if fnmatch.fnmatch(e.id, name)
                       or fnmatch.fnmatch(e.task_name, name)]
        if ids is not None:
            wanted = set(ids)
            entries = [e for e in entries if e.id in wanted]
        return entries

    def entry(self, esm_id: str) -> HubEntry:
        found = self.entries(ids=[esm_id])
        if not found:
            raise ESMNotFoundError(f"no ESM {esm_id!r} in hub {self.root}")
        return found[0]

    def get(self, esm_id: str) -> ESM:
        """Load (and check) one ESM."""
        if not (self.esm_dir / esm_id).is_dir():
            raise ESMNotFoundError(f"no ESM {esm_id!r} in hub {self.root}")
        return load_esm(self.esm_dir / esm_id)

    def stats(self, esm_id: str) -> dict[str, np.ndarray]:
        """Source statistics stored at build time (mean base embedding, token set), if any."""
        from safetensors.numpy import load_file

        path = self.esm_dir / esm_id / STATS_FILE
        return load_file(str(path)) if path.is_file() else {}

    # --- changes ----------------------------------------------------------------------------------

    def add(self, esm: ESM, *, esm_id: str | None = None, overwrite: bool = False,
            stats: dict[str, np.ndarray] | None = None, dtype: str = "float16") -> HubEntry:
        """Store an ESM (atomically) and catalogue it."""
        esm_id = esm_id or slugify(esm.name)
        if not _ID_PATTERN.match(esm_id):
            raise HubError(f"invalid ESM id {esm_id!r}: use letters, digits, '.', '_', '+', '-'")
        folder = self.esm_dir / esm_id
        if folder.exists() and not overwrite:
            raise ESMExistsError(f"ESM {esm_id!r} is already in hub {self.root} "
                                 "(use overwrite=True / --overwrite to replace it)")
        save_esm(esm, folder, dtype=dtype, extra_files={STATS_FILE: stats} if stats else None)
        self.sync()
        return self.entry(esm_id)

    def remove(self, esm_id: str) -> None:
        folder = self.esm_dir / esm_id
        if not folder.is_dir():
            raise ESMNotFoundError(f"no ESM {esm_id!r} in hub {self.root}")
        trash = folder.with_name(f"{TMP_PREFIX}removed-{esm_id}-{os.getpid()}")
        os.replace(folder, trash)  # the id disappears at once, even if deleting is slow
        shutil.rmtree(trash, ignore_errors=True)
        self.sync()

    def verify(self, *, repair: bool = False) -> HubReport:
        """Load every ESM fully and compare folders with the catalog.

        Reports broken ESMs, incomplete folders, leftover temporary folders and catalog rows
        without a folder. ``repair`` deletes temporary leftovers and re-synchronises the catalog
        (broken ESMs are reported, never deleted).
        """
        report = HubReport()
        listed = self.catalog.signatures()
        on_disk = self._folders()
        for esm_id in sorted(set(listed) - set(on_disk)):
            report.problems.append(f"{esm_id}: in the catalog but its folder is missing")
        for esm_id in sorted(set(on_disk) - set(listed)):
            report.problems.append(f"{esm_id}: folder not in the catalog")
        for esm_id in sorted(i for i in set(on_disk) & set(listed) if listed[i] != on_disk[i]):
            report.problems.append(f"{esm_id}: catalog entry is out of date")
        for entry in sorted(os.scandir(self.esm_dir), key=lambda e: e.name) \
                if self.esm_dir.is_dir() else []:
            if entry.name.startswith(TMP_PREFIX):
                report.problems.append(f"{entry.name}: leftover temporary folder of an "
                                       "interrupted write")
                if repair:
                    shutil.rmtree(entry.path, ignore_errors=True)
                    report.repaired.append(f"removed {entry.name}")
                continue
            if entry.name not in on_disk:
                report.problems.append(f"{entry.name}: incomplete ESM folder (missing "
                                       f"{CONFIG_FILE} or {WEIGHTS_FILE})")
                continue
            report.checked += 1
            try:
                load_esm(entry.path)
            except ESMError as err:
                report.problems.append(f"{entry.name}: {err}")
        if repair:
            changed = self.sync()
            report.repaired.extend(f"re-catalogued {i}" for i in changed)
        return report
