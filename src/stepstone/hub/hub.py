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

from .._failpoints import failpoint
from .._io import TMP_PREFIX, parse_temp_folder_name, recover_folder, temp_folder_name
from ..errors import ESMError, ESMExistsError, ESMNotFoundError, HubError
from ..esm.io import CONFIG_FILE, WEIGHTS_FILE, load_esm, read_config, save_esm
from ..esm.model import ESM
from .catalog import Catalog, HubEntry, entry_from_row
from .locks import esm_lock

logger = logging.getLogger(__name__)

ESM_DIR = "esms"
CATALOG_FILE = "catalog.sqlite"
STATS_FILE = "source_stats.safetensors"
CARD_FILE = "README.md"
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

    Layout: ``<root>/esms/<id>/{config.json, model.safetensors[, source_stats.safetensors]}``,
    ``<root>/catalog.sqlite`` and ``<root>/locks/``. Every ESM folder appears atomically (written
    to a temporary sibling and renamed) while its writer holds the ESM's lock; the catalog is
    updated in one SQLite transaction after each change and re-synchronised with the folders
    whenever the hub is opened, so a crash between the two never leaves them disagreeing for
    long. Opening a writable hub also recovers what crashed writers left behind (see
    :meth:`recover`). A hub in a read-only location keeps its catalog in memory.
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
        #: ESM folders that cannot be catalogued (id -> reason: unreadable config.json, missing
        #: files); ranking lists them with the reason
        self.broken: dict[str, str] = {}
        self._broken_signatures: dict[str, str] = {}
        if writable:
            self.recover()
        self.sync()

    def __repr__(self) -> str:
        return f"Hub({str(self.root)!r}, {len(self)} ESMs)"

    def __len__(self) -> int:
        return len(self.catalog.signatures())

    def __contains__(self, esm_id: object) -> bool:  # catalogued and its folder is there
        return isinstance(esm_id, str) and (self.esm_dir / esm_id / CONFIG_FILE).is_file() \
            and esm_id in self.catalog.signatures()

    def close(self) -> None:
        self.catalog.close()

    # --- catalog synchronisation ----------------------------------------------------------------

    def _scan(self) -> tuple[dict[str, str], dict[str, str]]:
        """``(complete, incomplete)``: id -> signature (config mtime + weight size) of every
        complete ESM folder, and id -> reason for folders missing a file. Names starting with a
        dot (temporary folders, hidden files) are not ESMs."""
        complete: dict[str, str] = {}
        incomplete: dict[str, str] = {}
        if not self.esm_dir.is_dir():
            return complete, incomplete
        for entry in os.scandir(self.esm_dir):
            if entry.name.startswith(".") or not entry.is_dir():
                continue
            folder = Path(entry.path)
            try:
                config = (folder / CONFIG_FILE).stat().st_mtime_ns
                weights = (folder / WEIGHTS_FILE).stat().st_size
            except OSError:
                missing = [n for n in (CONFIG_FILE, WEIGHTS_FILE) if not (folder / n).is_file()]
                incomplete[entry.name] = ("incomplete ESM folder (no "
                                          f"{' and no '.join(missing) or 'readable files'})")
                continue
            complete[entry.name] = f"{config}:{weights}"
        return complete, incomplete

    def sync(self) -> list[str]:
        """Bring the catalog in line with the folders; returns the ids that changed.

        The comparison is redone inside one write transaction, so concurrent syncs from several
        processes serialise and each sees the folders as they are when it commits.
        """
        if not any(self._diff(self._scan())):
            return []
        with self.catalog.transaction() as conn:
            stale, changed = self._diff(self._scan())
            rows = []
            for esm_id, signature in changed.items():
                try:
                    config = read_config(self.esm_dir / esm_id)
                except ESMError as err:
                    logger.warning("hub %s: skipping %s: %s", self.root, esm_id, err)
                    self.broken[esm_id] = str(err)
                    self._broken_signatures[esm_id] = signature
                    stale.append(esm_id)  # a catalogued ESM whose config broke leaves the list
                    continue
                self.broken.pop(esm_id, None)
                rows.append((HubEntry.from_config(esm_id, self.esm_dir / esm_id, config),
                             signature))
            self.catalog.delete(stale, conn)
            for entry, signature in rows:
                self.catalog.upsert(entry, signature, conn)
            failpoint("catalog-transaction")
        return stale + [e.id for e, _ in rows]

    def _diff(self, scanned: tuple[dict[str, str], dict[str, str]]
              ) -> tuple[list[str], dict[str, str]]:
        """``(stale ids, changed id -> signature)`` between the catalog and a folder scan; also
        updates :attr:`broken` with the incomplete folders."""
        on_disk, incomplete = scanned
        self.broken = {i: why for i, why in self.broken.items() if i in on_disk}
        self.broken.update(incomplete)
        listed = self.catalog.signatures()
        stale = [i for i in listed if i not in on_disk]
        changed = {i: sig for i, sig in on_disk.items()
                   if listed.get(i) != sig and self._broken_signatures.get(i) != sig}
        return stale, changed

    def recover(self) -> list[str]:
        """Clean up after writers that crashed (or were killed) in the middle of a write.

        A temporary ``.tmp-new@...@<id>`` folder (an unfinished ESM) is deleted; a
        ``.tmp-old@...@<id>`` folder (the previous version of an ESM being replaced) is moved
        back when ``<id>`` is missing, so an interrupted overwrite loses nothing. Each is touched
        only under the ESM's lock, so a live writer's files are left alone. Returns one line per
        action.
        """
        actions: list[str] = []
        if not self.esm_dir.is_dir():
            return actions
        ids = sorted({parsed[1] for parsed in map(parse_temp_folder_name,
                                                   os.listdir(self.esm_dir)) if parsed})
        for esm_id in ids:
            with self.lock(esm_id, blocking=False) as acquired:
                if acquired:  # else a live writer owns the temporary folders
                    actions.extend(recover_folder(self.esm_dir / esm_id))
        for line in actions:
            logger.warning("hub %s: %s", self.root, line)
        return actions

    def lock(self, esm_id: str, *, blocking: bool = True):
        """Context manager holding the lock of ``esm_id`` across processes (yields whether it
        was acquired; always True when ``blocking``)."""
        return esm_lock(self.root, esm_id, blocking=blocking)

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

    def stats(self, esm_id: str, *, strict: bool = False) -> dict[str, np.ndarray]:
        """Source statistics stored at build time (mean base embedding, token set), if any.

        An unreadable file counts as none (with a warning), so that one damaged file cannot stop
        a ranking; ``strict`` raises ESMError instead (``verify`` reports it).
        """
        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        path = self.esm_dir / esm_id / STATS_FILE
        if not path.is_file():
            return {}
        try:
            return load_file(str(path))
        except (SafetensorError, OSError, ValueError, TypeError) as err:
            if strict:
                raise ESMError(f"{path}: unreadable source statistics ({err})") from err
            logger.warning("ignoring unreadable source statistics %s: %s", path, err)
            return {}

    # --- changes ----------------------------------------------------------------------------------

    def add(self, esm: ESM, *, esm_id: str | None = None, overwrite: bool = False,
            stats: dict[str, np.ndarray] | None = None, dtype: str = "float16",
            card: str | None = None) -> HubEntry:
        """Store an ESM (atomically, under its lock) and catalogue it; ``stats`` are source
        statistics, ``card`` a model card kept as README.md."""
        esm_id = esm_id or slugify(esm.name)
        if not _ID_PATTERN.match(esm_id):
            raise HubError(f"invalid ESM id {esm_id!r}: use letters, digits, '.', '_', '+', '-'")
        folder = self.esm_dir / esm_id
        with self.lock(esm_id):
            if folder.exists() and not overwrite:
                raise ESMExistsError(f"ESM {esm_id!r} is already in hub {self.root} "
                                     "(use overwrite=True / --overwrite to replace it)")
            extra: dict[str, dict[str, np.ndarray] | str] = {STATS_FILE: stats} if stats else {}
            if card is not None:
                extra[CARD_FILE] = card
            save_esm(esm, folder, dtype=dtype, extra_files=extra)
            failpoint("hub-add", esm_id)  # folder in place, catalog not yet updated
            self.sync()
        return self.entry(esm_id)

    def remove(self, esm_id: str) -> None:
        folder = self.esm_dir / esm_id
        with self.lock(esm_id):
            if not folder.is_dir() or esm_id.startswith("."):
                raise ESMNotFoundError(f"no ESM {esm_id!r} in hub {self.root}")
            trash = folder.with_name(temp_folder_name("removed", esm_id))
            os.replace(folder, trash)  # the id disappears at once, even if deleting is slow
            shutil.rmtree(trash, ignore_errors=True)
            self.sync()

    def verify(self, *, repair: bool = False) -> HubReport:
        """Load every ESM fully and compare folders with the catalog.

        Reports broken ESMs (unreadable config, weights or source statistics), incomplete
        folders, leftovers of interrupted writes and catalog rows that disagree with the folders.
        ``repair`` runs :meth:`recover`, deletes other temporary leftovers and re-synchronises the
        catalog (broken ESMs are reported, never deleted).
        """
        report = HubReport()
        if repair:
            report.repaired.extend(self.recover())
        on_disk, incomplete = self._scan()
        listed = self.catalog.signatures()
        for esm_id in sorted(set(listed) - set(on_disk)):
            report.problems.append(f"{esm_id}: in the catalog but its folder is missing")
        for esm_id in sorted(on_disk):
            report.checked += 1
            try:
                load_esm(self.esm_dir / esm_id)
                self.stats(esm_id, strict=True)
            except ESMError as err:
                report.problems.append(f"{esm_id}: {err}")
                continue
            if esm_id not in listed:
                report.problems.append(f"{esm_id}: folder not in the catalog")
            elif listed[esm_id] != on_disk[esm_id]:
                report.problems.append(f"{esm_id}: catalog entry is out of date")
        for esm_id, why in sorted(incomplete.items()):
            report.problems.append(f"{esm_id}: {why}")
        for entry in sorted(os.scandir(self.esm_dir), key=lambda e: e.name) \
                if self.esm_dir.is_dir() else []:
            if entry.name.startswith(TMP_PREFIX):
                report.problems.append(f"{entry.name}: leftover temporary folder of an "
                                       "interrupted write")
                if repair and parse_temp_folder_name(entry.name) is None:  # not lockable
                    shutil.rmtree(entry.path, ignore_errors=True)
                    report.repaired.append(f"removed {entry.name}")
        if repair:
            report.repaired.extend(f"re-catalogued {i}" for i in self.sync())
        return report
