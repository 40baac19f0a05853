"""One large tensor in a safetensors file, written and read in slices along its first axis.

``safetensors.numpy.save_file`` needs the whole array in memory and ``safe_open`` maps the whole
file (mapped pages count towards the process's resident memory), so packed hubs use this instead:
the header is reserved, rows are streamed in, and the header is rewritten with the final row
count; rows are read back with one positioned read per slice. The files are ordinary safetensors
files (any safetensors reader opens them).
"""

from __future__ import annotations

import json
import mmap
import os
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._io import atomic_path

DTYPES = {"F16": np.float16, "F32": np.float32, "F64": np.float64}
_HEADER_ROOM = 256  # spare bytes for the final header (row count and offsets may grow)


@dataclass(frozen=True)
class StackedTensor:
    """Location of one tensor in a safetensors file: rows of shape ``row_shape``."""

    path: Path
    name: str
    dtype: str
    rows: int
    row_shape: tuple[int, ...]
    data_start: int

    @property
    def row_bytes(self) -> int:
        return int(np.prod(self.row_shape)) * np.dtype(DTYPES[self.dtype]).itemsize

    def read(self, handle, start: int, stop: int) -> np.ndarray:
        """Rows [start, stop) as a new array; ``handle`` is the file opened with ``open_raw``."""
        out = np.empty((stop - start, *self.row_shape), dtype=DTYPES[self.dtype])
        view = memoryview(out.reshape(-1).view(np.uint8))
        handle.seek(self.data_start + start * self.row_bytes)
        got = handle.readinto(view)
        if got != len(view):
            raise OSError(f"{self.path}: short read ({got} of {len(view)} bytes); the file is "
                          "truncated")
        return out

    def map(self, handle, start: int, stop: int) -> np.ndarray:
        """Rows [start, stop) as a read-only view of the file's pages, without a copy: the
        pages are read in by whoever first touches them (the scoring workers, in parallel)
        instead of being copied by the reading thread. The mapping covers only these rows and
        is released with the array, so resident memory stays that of the blocks in use."""
        offset = self.data_start + start * self.row_bytes
        size = (stop - start) * self.row_bytes
        if os.fstat(handle.fileno()).st_size < offset + size:  # touching it would be SIGBUS
            raise OSError(f"{self.path}: rows {start}-{stop} lie beyond the end of the file; "
                          "the file is truncated")
        shape = (stop - start, *self.row_shape)
        if size == 0:
            return np.empty(shape, dtype=DTYPES[self.dtype])
        aligned = offset - offset % mmap.ALLOCATIONGRANULARITY
        window = mmap.mmap(handle.fileno(), size + offset - aligned, access=mmap.ACCESS_READ,
                           offset=aligned)
        if hasattr(window, "madvise"):  # start reading ahead now (the default for mmap is lazy)
            window.madvise(mmap.MADV_WILLNEED)
        return np.frombuffer(window, dtype=DTYPES[self.dtype], offset=offset - aligned,
                             count=int(np.prod(shape))).reshape(shape)

    def open_raw(self):
        return open(self.path, "rb", buffering=0)


def read_header(path: str | os.PathLike) -> dict:
    """The JSON header of a safetensors file (tensor names -> dtype, shape, data_offsets)."""
    with open(path, "rb") as handle:
        raw = handle.read(8)
        if len(raw) != 8:
            raise OSError(f"{path}: not a safetensors file (too short)")
        (size,) = struct.unpack("<Q", raw)
        if size > 100_000_000:
            raise OSError(f"{path}: not a safetensors file (header of {size} bytes)")
        return json.loads(handle.read(size))


def open_stacked(path: str | os.PathLike, name: str) -> StackedTensor:
    """Describe tensor ``name`` of ``path``, checking that the file holds all its bytes."""
    path = Path(path)
    header = read_header(path)
    info = header.get(name)
    if not isinstance(info, dict) or info.get("dtype") not in DTYPES:
        raise OSError(f"{path}: no float tensor {name!r}")
    shape = tuple(int(x) for x in info["shape"])
    begin, end = (int(x) for x in info["data_offsets"])
    with open(path, "rb") as handle:
        (size,) = struct.unpack("<Q", handle.read(8))
    tensor = StackedTensor(path, name, info["dtype"], shape[0], shape[1:], 8 + size + begin)
    if end - begin != tensor.rows * tensor.row_bytes or \
            path.stat().st_size < tensor.data_start + end - begin:
        raise OSError(f"{path}: tensor {name!r} is truncated or inconsistent with its header")
    return tensor


def write_stacked(path: str | os.PathLike, name: str, dtype: str, row_shape: tuple[int, ...],
                  blocks: Iterable[np.ndarray], *, max_rows: int,
                  metadata: dict[str, str] | None = None) -> int:
    """Stream ``blocks`` (arrays of shape (b, *row_shape)) into one tensor; returns the rows.

    The file appears atomically; ``max_rows`` bounds the row count (it sizes the header room).
    """
    cast = DTYPES[dtype]
    rows = 0
    with atomic_path(path) as tmp:
        placeholder = _header(name, dtype, (max_rows, *row_shape), metadata)
        with open(tmp, "wb") as handle:
            handle.write(placeholder)
            for block in blocks:
                block = np.ascontiguousarray(block, dtype=cast)
                if block.shape[1:] != row_shape or rows + len(block) > max_rows:
                    raise ValueError(f"block of shape {block.shape} does not fit {row_shape} "
                                     f"(rows so far {rows}, at most {max_rows})")
                handle.write(memoryview(block.reshape(-1).view(np.uint8)))
                rows += len(block)
            final = _header(name, dtype, (rows, *row_shape), metadata, size=len(placeholder))
            handle.seek(0)
            handle.write(final)
    return rows


def _header(name: str, dtype: str, shape: tuple[int, ...], metadata: dict[str, str] | None,
            *, size: int | None = None) -> bytes:
    """Length prefix + JSON header, space-padded to ``size`` bytes (or to a multiple of 8 with
    room to spare)."""
    nbytes = int(np.prod(shape)) * np.dtype(DTYPES[dtype]).itemsize
    header = {name: {"dtype": dtype, "shape": list(shape), "data_offsets": [0, nbytes]}}
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    if size is None:
        size = 8 + len(text) + _HEADER_ROOM
        size += -size % 8
    if 8 + len(text) > size:
        raise ValueError("safetensors header outgrew its reserved room")
    return struct.pack("<Q", size - 8) + text + b" " * (size - 8 - len(text))
