"""Progress bars that every long loop uses and that one switch silences."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")
_enabled: bool | None = None


def set_progress_bars(enabled: bool) -> None:
    """Turn all stepstone progress bars on or off (the CLI's ``--quiet`` turns them off)."""
    global _enabled
    _enabled = enabled


def progress_enabled() -> bool:
    if _enabled is not None:
        return _enabled
    return os.environ.get("STEPSTONE_NO_PROGRESS", "") in ("", "0")


def progress(iterable: Iterable[T] | None = None, *, desc: str, total: int | None = None,
             unit: str = "it", show: bool | None = None, **kwargs) -> tqdm:
    """A tqdm bar on stderr; ``show=None`` follows :func:`set_progress_bars`."""
    enabled = progress_enabled() if show is None else show
    return tqdm(iterable, desc=desc, total=total, unit=unit, disable=not enabled,
                dynamic_ncols=True, **kwargs)
