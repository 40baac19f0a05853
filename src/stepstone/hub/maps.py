"""Stream a hub's ESMs as stacked augmented maps, one block at a time."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from ..errors import ESMError
from ..esm.io import load_esm
from ..esm.model import ESM
from .catalog import HubEntry

#: ESMs per block: large enough for BLAS-3 and batched eigen-solves, small enough for memory.
BLOCK_SIZE = 64


def iter_map_blocks(entries: Sequence[HubEntry], *, dim: int, skipped: dict[str, str],
                    block_size: int = BLOCK_SIZE
                    ) -> Iterator[tuple[list[HubEntry], np.ndarray]]:
    """Yield ``(entries, maps)`` with maps of shape (B, dim + 1, dim): A = [Wᵀ; bᵀ] per ESM.

    A broken or incompatible ESM is recorded in ``skipped`` (id -> reason) and left out; only
    one block of maps is in memory at a time.
    """
    for start in range(0, len(entries), block_size):
        ok, maps = [], []
        for entry, esm in checked_esms(entries[start:start + block_size], dim=dim,
                                       skipped=skipped):
            ok.append(entry)
            maps.append(esm.augmented())
        if ok:
            yield ok, np.stack(maps)


def checked_esms(entries: Sequence[HubEntry], *, dim: int, skipped: dict[str, str]
                 ) -> Iterator[tuple[HubEntry, ESM]]:
    """Load each entry's ESM with all checks; failures go to ``skipped`` (id -> reason)."""
    for entry in entries:
        try:
            esm = load_esm(entry.path, expected_dim=dim)
        except ESMError as err:
            skipped[entry.id] = str(err)
            continue
        yield entry, esm
