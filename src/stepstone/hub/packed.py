"""Packed ESMs: every ESM of a hub stacked in one file, so ranking reads blocks, not folders.

Loading ESM folders one by one (config, safetensors, checks) costs about as much as scoring them.
A pack is a derived cache beside the hub (``<hub>/packed/``, or under the stepstone cache when the
hub is read-only): ``maps-d<D>-<token>.safetensors`` holds the augmented maps A = [Wᵀ; bᵀ] of all
ESMs of dimension D, shape (M, D+1, D), in their stored precision; ``index-d<D>.json`` lists
the ids (one row each), the ESMs that failed the checks (with the reason, so ranking still
reports them) and the catalog signatures the pack was built from. The ESM folders stay the
truth: when the catalog changes, the next ranking rebuilds the pack (atomically, under a lock),
validating every ESM with the same strict checks as :func:`stepstone.esm.load_esm`.
Set ``STEPSTONE_NO_PACK=1`` to always read the folders.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import secrets
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .._env import cache_dir
from .._io import write_json
from .._progress import progress
from ..esm.io import WEIGHTS_FILE
from .catalog import HubEntry
from .hub import Hub
from .maps import checked_esms, iter_map_blocks
from .stacked import StackedTensor, open_stacked, read_header, write_stacked

logger = logging.getLogger(__name__)

PACK_DIR = "packed"
INDEX_FORMAT = 1
TENSOR = "maps"
#: ESMs per read: one positioned read of ~75 MB (float16, D = 384)
BLOCK_SIZE = 256
_WIDTH = {"F16": 0, "BF16": 1, "F32": 1, "F64": 2}  # stored dtype -> pack precision rank
_PACK_DTYPE = ["F16", "F32", "F64"]


@dataclass
class PackIndex:
    """What a pack holds: ``ids`` row by row, ``broken`` ESMs (id -> reason), and the catalog
    signatures (id -> signature) it was built from."""

    dim: int
    file: str
    dtype: str
    ids: list[str]
    broken: dict[str, str]
    catalog: dict[str, str]
    built_seconds: float = 0.0
    format: int = INDEX_FORMAT
    rows: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.rows = {esm_id: i for i, esm_id in enumerate(self.ids)}

    def to_dict(self) -> dict:
        out = asdict(self)
        out.pop("rows")
        return out


def pack_folder(hub: Hub) -> Path | None:
    """Where the hub's packs live: ``<hub>/packed`` when the hub is writable, else a folder in
    the stepstone cache named after the hub's path; None when neither can be written."""
    if os.access(hub.root, os.W_OK):
        return hub.root / PACK_DIR
    key = hashlib.sha256(str(hub.root.resolve()).encode()).hexdigest()[:16]
    folder = cache_dir() / "packed" / key
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return folder if os.access(folder, os.W_OK) else None


def read_index(folder: Path, dim: int) -> PackIndex | None:
    path = folder / f"index-d{dim}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        data.pop("rows", None)
        index = PackIndex(**data)
    except (OSError, ValueError, TypeError):
        return None
    return index if index.format == INDEX_FORMAT and index.dim == dim else None


def ensure_pack(hub: Hub, dim: int, *, force: bool = False, show_progress: bool | None = None
                ) -> PackIndex | None:
    """An up-to-date pack of the hub's D-dimensional ESMs, built if missing or stale (or
    ``force``); None when packing is disabled or impossible (the caller reads folders then)."""
    if os.environ.get("STEPSTONE_NO_PACK", "") not in ("", "0"):
        return None
    folder = pack_folder(hub)
    if folder is None:
        return None
    index = read_index(folder, dim)
    if not force and _fresh(index, hub, folder):
        return index
    try:
        with _lock(folder, dim):
            index = read_index(folder, dim)  # another process may have just built it
            if not force and _fresh(index, hub, folder):
                return index
            return build_pack(hub, dim, folder, show_progress=show_progress)
    except OSError as err:
        logger.warning("could not pack hub %s (%s); reading ESM folders instead", hub.root, err)
        return None


def _fresh(index: PackIndex | None, hub: Hub, folder: Path) -> bool:
    """Built from the hub's current catalog, and its data file is there and whole."""
    return index is not None and index.catalog == hub.catalog.signatures() \
        and _open(index, folder, quiet=True) is not None


def build_pack(hub: Hub, dim: int, folder: Path, *, show_progress: bool | None = None
               ) -> PackIndex:
    """Check every ESM of the hub and stack those of dimension ``dim`` into a new pack."""
    started = time.perf_counter()
    catalog = hub.catalog.signatures()
    entries = hub.entries()
    dtype = _pack_dtype(entries)
    name = f"maps-d{dim}-{secrets.token_hex(4)}.safetensors"
    ids: list[str] = []
    broken: dict[str, str] = {}

    def checked_blocks() -> Iterator[np.ndarray]:
        bar = progress(total=len(entries), desc="Packing ESMs", unit="esm", show=show_progress,
                       leave=False)
        with bar:
            for start in range(0, len(entries), BLOCK_SIZE):
                block = []
                for entry, esm in checked_esms(entries[start:start + BLOCK_SIZE], dim=dim,
                                               skipped=broken):
                    ids.append(entry.id)  # stored precision: no float64 copy of the block
                    block.append(np.vstack([esm.weight.T, esm.bias[None, :]]))
                bar.update(min(BLOCK_SIZE, len(entries) - start))
                if block:
                    yield np.stack(block)

    folder.mkdir(parents=True, exist_ok=True)
    write_stacked(folder / name, TENSOR, dtype, (dim + 1, dim), checked_blocks(),
                  max_rows=len(entries), metadata={"hub": str(hub.root)})
    index = PackIndex(dim=dim, file=name, dtype=dtype, ids=ids, broken=broken, catalog=catalog,
                      built_seconds=round(time.perf_counter() - started, 3))
    write_json(folder / f"index-d{dim}.json", index.to_dict())
    for old in folder.glob(f"maps-d{dim}-*.safetensors"):
        if old.name != name:
            old.unlink(missing_ok=True)  # open readers keep their handle
    logger.info("packed %d ESMs of %s (%d broken) into %s in %.1f s", len(ids), hub.root,
                len(broken), folder / name, index.built_seconds)
    return index


def _pack_dtype(entries: Sequence[HubEntry]) -> str:
    """The narrowest dtype that holds every stored ESM exactly (float16 for stepstone's own)."""
    width = 0
    for entry in entries:
        try:
            header = read_header(entry.path / WEIGHTS_FILE)
        except (OSError, ValueError):
            continue  # load_esm reports it
        for key, info in header.items():
            if key != "__metadata__" and isinstance(info, dict):
                width = max(width, _WIDTH.get(info.get("dtype"), 2))
    return _PACK_DTYPE[width]


@contextmanager
def _lock(folder: Path, dim: int) -> Iterator[None]:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f".lock-d{dim}", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def iter_hub_blocks(hub: Hub, entries: Sequence[HubEntry], *, dim: int, skipped: dict[str, str],
                    as_stored: bool = False, show_progress: bool | None = None
                    ) -> Iterator[tuple[list[HubEntry], np.ndarray]]:
    """Yield ``(entries, maps)`` blocks, maps (B, dim+1, dim): from the hub's pack when one can
    be had, else from the ESM folders (:func:`iter_map_blocks`).

    Broken ESMs are recorded in ``skipped``. Maps are float64 unless ``as_stored``, which keeps
    the pack's precision (float16 for stepstone hubs; the caller converts).
    """
    index = ensure_pack(hub, dim, show_progress=show_progress)
    tensor = _open(index, pack_folder(hub)) if index is not None else None
    if tensor is None:
        yield from iter_map_blocks(entries, dim=dim, skipped=skipped)
        return
    with tensor.open_raw() as handle:
        for rows, block in _runs(entries, index, skipped):
            if as_stored:  # a view of the file's pages: the caller converts it, per ESM
                yield block, tensor.map(handle, rows[0], rows[-1] + 1)
            else:
                yield block, tensor.read(handle, rows[0], rows[-1] + 1).astype(np.float64)


def _open(index: PackIndex, folder: Path | None, *, quiet: bool = False
          ) -> StackedTensor | None:
    log = logger.debug if quiet else logger.warning
    try:
        tensor = open_stacked(folder / index.file, TENSOR)
    except (OSError, ValueError, KeyError) as err:
        log("unreadable pack %s (%s); reading ESM folders instead", index.file, err)
        return None
    if tensor.rows != len(index.ids) or tensor.row_shape != (index.dim + 1, index.dim):
        log("pack %s does not match its index; reading ESM folders", index.file)
        return None
    return tensor


def _runs(entries: Sequence[HubEntry], index: PackIndex, skipped: dict[str, str]
          ) -> Iterator[tuple[list[int], list[HubEntry]]]:
    """Group the wanted entries into runs of consecutive pack rows (at most BLOCK_SIZE)."""
    rows: list[int] = []
    block: list[HubEntry] = []
    for entry in entries:
        row = index.rows.get(entry.id)
        if row is None:
            skipped[entry.id] = index.broken.get(entry.id, "not in the hub's pack")
            continue
        if block and (row != rows[-1] + 1 or len(block) == BLOCK_SIZE):
            yield rows, block
            rows, block = [], []
        rows.append(row)
        block.append(entry)
    if block:
        yield rows, block
