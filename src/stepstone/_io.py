"""Atomic writes: write to a temporary file or folder beside the target, fsync, then rename.

A reader (or a process killed mid-write) sees either the old file or folder or the new one, never
half of one. Temporary names start with ``.tmp-`` so scans can skip and clean them; temporary
folders are named ``.tmp-<kind>@<pid>-<random>@<name>`` so that recovery knows what they were.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ._failpoints import failpoint

TMP_PREFIX = ".tmp-"


def temp_path_for(path: Path) -> Path:
    return path.with_name(f"{TMP_PREFIX}{path.name}-{os.getpid()}-{secrets.token_hex(4)}")


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; on success it is fsynced and renamed onto ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_for(path)
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        fsync_dir(path.parent)
    finally:
        if tmp.exists():
            tmp.unlink()


def temp_folder_name(kind: str, name: str) -> str:
    """``.tmp-<kind>@<pid>-<random>@<name>``: a temporary folder standing for ``name``."""
    return f"{TMP_PREFIX}{kind}@{os.getpid()}-{secrets.token_hex(4)}@{name}"


def parse_temp_folder_name(name: str) -> tuple[str, str] | None:
    """``(kind, name)`` of a temporary folder name, or None for any other name."""
    if not name.startswith(TMP_PREFIX):
        return None
    parts = name[len(TMP_PREFIX):].split("@", 2)
    return (parts[0], parts[2]) if len(parts) == 3 and parts[2] else None


@contextmanager
def atomic_folder(path: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary sibling folder to fill; on success it takes the place of
    ``path`` (see :func:`replace_folder`), on failure it is deleted."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(temp_folder_name("new", path.name))
    tmp.mkdir()
    try:
        yield tmp
        fsync_dir(tmp)
        replace_folder(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def replace_folder(new: Path, path: Path) -> None:
    """Rename folder ``new`` to ``path``.

    A folder cannot be renamed over a non-empty one, so an existing ``path`` is first renamed
    aside to ``.tmp-old@...@<name>`` and deleted afterwards. A crash between the two renames
    leaves the old folder under that name; :meth:`stepstone.hub.Hub.recover` moves it back.
    Callers that may race on ``path`` must hold a lock (the hub's per-ESM lock).
    """
    old = None
    if path.exists():
        old = path.with_name(temp_folder_name("old", path.name))
        os.replace(path, old)
        failpoint("replace-folder", path.name)
    try:
        os.replace(new, path)
    except OSError:
        if old is not None:
            os.replace(old, path)
        raise
    fsync_dir(path.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def recover_folder(path: Path) -> list[str]:
    """Undo what a crashed :func:`replace_folder` or :func:`atomic_folder` left beside ``path``:
    an unfinished new folder is deleted, the previous folder is moved back if ``path`` is
    missing. The caller must make sure no live writer is working on ``path`` (hold its lock).
    Returns one line per action."""
    actions = []
    if not path.parent.is_dir():
        return actions
    for entry in sorted(os.scandir(path.parent), key=lambda e: e.name):
        parsed = parse_temp_folder_name(entry.name)
        if parsed is None or parsed[1] != path.name:
            continue
        if parsed[0] == "old" and not path.exists():
            os.replace(entry.path, path)
            actions.append(f"restored {path.name} (its replacement was interrupted)")
        else:
            shutil.rmtree(entry.path, ignore_errors=True)
            actions.append(f"removed {entry.name} (left by an interrupted write)")
    return actions


def fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - some filesystems do not allow opening folders
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` atomically (in two halves, so crash tests can stop between them)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            half = len(data) // 2
            handle.write(data[:half])
            handle.flush()
            failpoint("partial-write", Path(path).name)
            handle.write(data[half:])


def write_text(path: str | os.PathLike, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, sort_keys=False, default=_json_default) + "\n")


def write_safetensors(path: str | os.PathLike, tensors: dict[str, np.ndarray],
                      metadata: dict[str, str] | None = None) -> None:
    from safetensors.numpy import save

    arrays = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
    write_bytes(path, save(arrays, metadata=metadata))


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "value"):  # enums
        return obj.value
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
