"""Per-ESM locks shared by every process that writes to a hub.

A lock is ``fcntl.flock`` on ``<hub>/locks/<esm id>.lock``. The operating system releases it when
its process ends, even by SIGKILL, so a crashed build never leaves an ESM locked. Within one
thread a lock is re-entrant: ``Hub.add`` inside a build that already holds the ESM's lock does
not wait for itself.
"""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_DIR = "locks"

_held: dict[tuple[str, int], int] = {}  # (lock file, thread) -> nesting depth
_guard = threading.Lock()


@contextmanager
def esm_lock(root: Path, esm_id: str, *, blocking: bool = True) -> Iterator[bool]:
    """Hold the lock of ``esm_id`` in the hub at ``root``; yields whether it was acquired
    (always True when ``blocking``). A read-only hub has nothing to coordinate: yields True."""
    path = root / LOCK_DIR / f"{esm_id}.lock"
    key = (str(path), threading.get_ident())
    with _guard:
        nested = key in _held
        if nested:
            _held[key] += 1
    if nested:
        try:
            yield True
        finally:
            with _guard:
                _held[key] -= 1
        return
    try:
        path.parent.mkdir(exist_ok=True)
        handle = open(path, "a+")
    except OSError:
        yield True
        return
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        with _guard:
            _held[key] = 1
        try:
            yield True
        finally:
            with _guard:
                del _held[key]
            fcntl.flock(handle, fcntl.LOCK_UN)
