"""Read and write ESM folders in hfselect's layout, checking everything on load.

A folder holds ``config.json`` (ESMConfig) and ``model.safetensors`` with ``model.weight`` (D, D)
and ``model.bias`` (D,) — or, in hfselect's legacy 0.1.0 layout, ``sequential.0.weight`` /
``sequential.0.bias``. Files are read with safetensors and json only: nothing in them can run code.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np

from .._io import TMP_PREFIX, fsync_dir, write_json, write_safetensors
from ..errors import ESMError, IncompatibleESMError
from .config import ESMConfig
from .model import ESM

logger = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
WEIGHT_KEYS = ("model.weight", "model.bias")
LEGACY_KEYS = ("sequential.0.weight", "sequential.0.bias")
STORAGE_DTYPES = {"float16": np.float16, "float32": np.float32}
_FLOAT_DTYPES = {"F16", "BF16", "F32", "F64"}


def read_config(folder: str | os.PathLike) -> ESMConfig:
    """The ESMConfig of an ESM folder (no weights read)."""
    path = Path(folder) / CONFIG_FILE
    if not path.is_file():
        raise ESMError(f"{folder}: no {CONFIG_FILE}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise ESMError(f"{path}: not valid JSON ({err})") from err
    return ESMConfig.from_dict(data, where=str(path))


def read_weights(folder: str | os.PathLike, *, expected_dim: int | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """``(weight, bias)`` from model.safetensors as stored (float16/32), after checking keys,
    shapes, dtypes and finiteness."""
    from safetensors import SafetensorError, safe_open

    path = Path(folder) / WEIGHTS_FILE
    if not path.is_file():
        raise ESMError(f"{folder}: no {WEIGHTS_FILE}")
    if path.stat().st_size == 0:
        raise ESMError(f"{path}: empty file")
    try:
        with safe_open(str(path), framework="numpy") as handle:
            keys = set(handle.keys())
            names = _weight_names(keys, path)
            for key in names:
                dtype = handle.get_slice(key).get_dtype()
                if dtype not in _FLOAT_DTYPES:
                    raise ESMError(f"{path}: tensor {key!r} has dtype {dtype}, expected floats")
            weight, bias = (handle.get_tensor(k) for k in names)
    except SafetensorError as err:
        raise ESMError(f"{path}: not a readable safetensors file ({err}); it may be truncated "
                       "- rebuild or re-download this ESM") from err
    except (OSError, ValueError, TypeError) as err:  # bf16 arrives as a numpy error
        if isinstance(err, ESMError):
            raise
        raise ESMError(f"{path}: cannot read tensors ({err})") from err
    _check_shapes(weight, bias, path, expected_dim)
    return weight, bias


def _weight_names(keys: set[str], path: Path) -> tuple[str, str]:
    for names in (WEIGHT_KEYS, LEGACY_KEYS):
        if set(names) <= keys:
            extra = keys - set(names)
            if extra:
                raise ESMError(f"{path}: unexpected tensors {sorted(extra)}; a linear ESM holds "
                               f"only {names[0]!r} and {names[1]!r}")
            return names
    raise ESMError(f"{path}: tensors {sorted(keys)} are not a linear ESM (expected "
                   f"{WEIGHT_KEYS[0]!r}/{WEIGHT_KEYS[1]!r} or the legacy "
                   f"{LEGACY_KEYS[0]!r}/{LEGACY_KEYS[1]!r})")


def _check_shapes(weight: np.ndarray, bias: np.ndarray, path: Path,
                  expected_dim: int | None) -> None:
    if weight.ndim != 2 or bias.ndim != 1 or weight.shape[0] != bias.shape[0]:
        raise ESMError(f"{path}: weight {weight.shape} and bias {bias.shape} do not form a "
                       "linear map (expected (D, D) and (D,))")
    if weight.shape[0] != weight.shape[1]:
        raise ESMError(f"{path}: weight {weight.shape} is not square; an ESM maps the embedding "
                       "space onto itself")
    if expected_dim is not None and weight.shape[1] != expected_dim:
        raise IncompatibleESMError(f"{path}: maps {weight.shape[1]}-d embeddings, but the "
                                   f"config/encoder has {expected_dim} dimensions")
    for name, array in (("weight", weight), ("bias", bias)):
        finite = np.isfinite(array.astype(np.float32, copy=False))
        if not finite.all():
            raise ESMError(f"{path}: {name} has {int((~finite).sum())} NaN/inf values")


def load_esm(folder: str | os.PathLike, *, expected_dim: int | None = None,
             base_model: str | None = None) -> ESM:
    """Load and check an ESM folder (stepstone's or hfselect's, current or legacy layout).

    Raises ESMError (or IncompatibleESMError when ``expected_dim``/``base_model`` do not match).
    """
    config = read_config(folder)
    if base_model is not None and config.base_model_name != base_model:
        raise IncompatibleESMError(f"{folder}: made for base model {config.base_model_name!r}, "
                                   f"not {base_model!r}")
    dim = config.esm_embedding_dim
    if expected_dim is not None and dim is not None and dim != expected_dim:
        raise IncompatibleESMError(f"{folder}: config says {dim}-d embeddings, the encoder has "
                                   f"{expected_dim}")
    weight, bias = read_weights(folder, expected_dim=dim or expected_dim)
    return ESM(weight=weight, bias=bias, config=config)


def save_esm(esm: ESM, folder: str | os.PathLike, *, dtype: str = "float16",
             extra_files: dict[str, dict[str, np.ndarray]] | None = None) -> Path:
    """Write an ESM folder atomically: files go to a temporary sibling folder that is renamed
    into place, so a crash never leaves a half-written ESM under ``folder``.

    ``extra_files`` maps file names to tensors saved beside the weights (e.g. source statistics);
    they are kept out of model.safetensors so hfselect's strict layout stays intact.
    """
    if dtype not in STORAGE_DTYPES:
        raise ValueError(f"dtype must be one of {sorted(STORAGE_DTYPES)}, got {dtype!r}")
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f"{TMP_PREFIX}{folder.name}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        config = esm.config
        config.esm_embedding_dim = esm.dim
        config.stepstone = {**config.stepstone, "weight_dtype": dtype}
        cast = STORAGE_DTYPES[dtype]
        write_safetensors(tmp / WEIGHTS_FILE, {"model.weight": esm.weight.astype(cast),
                                               "model.bias": esm.bias.astype(cast)})
        for name, tensors in (extra_files or {}).items():
            write_safetensors(tmp / name, tensors)
        write_json(tmp / CONFIG_FILE, config.to_dict())
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
        fsync_dir(folder.parent)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder
