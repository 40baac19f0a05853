"""Read and write ESM folders in hfselect's layout, checking everything on load.

A folder holds ``config.json`` (ESMConfig) and ``model.safetensors`` with ``model.weight`` (D, D)
and ``model.bias`` (D,) — or, in hfselect's legacy 0.1.0 layout, ``sequential.0.weight`` /
``sequential.0.bias``. Files are read with safetensors and json only: nothing in them can run code.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np

from .._io import atomic_folder, write_json, write_safetensors, write_text
from ..errors import ESMError, IncompatibleESMError
from .config import HFSELECT_LAYOUT_VERSION, ESMConfig
from .model import ESM

logger = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
WEIGHT_KEYS = ("model.weight", "model.bias")
LEGACY_KEYS = ("sequential.0.weight", "sequential.0.bias")
STORAGE_DTYPES = {"float16": np.float16, "float32": np.float32}
_FLOAT_DTYPES = {"F16", "BF16", "F32", "F64"}
#: No ESM config comes near this (hfselect's are ~1 kB); a larger file is not read into memory.
MAX_CONFIG_BYTES = 4 * 2**20


def read_config(folder: str | os.PathLike) -> ESMConfig:
    """The ESMConfig of an ESM folder (no weights read)."""
    path = Path(folder) / CONFIG_FILE
    if not path.is_file():
        raise ESMError(f"{folder}: no {CONFIG_FILE}")
    size = path.stat().st_size
    if size > MAX_CONFIG_BYTES:
        raise ESMError(f"{path}: {size} bytes, too large for an ESM config (at most "
                       f"{MAX_CONFIG_BYTES})")
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise ESMError(f"{path}: not valid JSON ({err})") from err
    except RecursionError as err:  # "[[[[...": json recurses once per level
        raise ESMError(f"{path}: not valid JSON (nested too deeply)") from err
    return ESMConfig.from_dict(data, where=str(path))


def read_weights(folder: str | os.PathLike, *, expected_dim: int | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """``(weight, bias)`` from model.safetensors as stored (float16/32/64; bfloat16 becomes
    float32), after checking keys, dtypes and shapes (before any tensor is read) and finiteness."""
    from safetensors import SafetensorError, safe_open

    path = Path(folder) / WEIGHTS_FILE
    if not path.is_file():
        raise ESMError(f"{folder}: no {WEIGHTS_FILE}")
    if path.stat().st_size == 0:
        raise ESMError(f"{path}: empty file")
    try:
        with safe_open(str(path), framework="numpy") as handle:
            names = _weight_names(set(handle.keys()), path)
            dtypes = [handle.get_slice(k).get_dtype() for k in names]
            for key, dtype in zip(names, dtypes):
                if dtype not in _FLOAT_DTYPES:
                    raise ESMError(f"{path}: tensor {key!r} has dtype {dtype}, expected floats")
            weight_shape, bias_shape = (tuple(handle.get_slice(k).get_shape()) for k in names)
            _check_shapes(weight_shape, bias_shape, path, expected_dim)
            if "BF16" in dtypes:  # numpy has no bfloat16
                weight, bias = _read_bfloat16(path, names)
            else:
                weight, bias = (handle.get_tensor(k) for k in names)
    except SafetensorError as err:
        raise ESMError(f"{path}: not a readable safetensors file ({err}); it is truncated, "
                       "damaged or not safetensors - rebuild or re-download this ESM") from err
    except (OSError, ValueError, TypeError) as err:
        if isinstance(err, ESMError):
            raise
        raise ESMError(f"{path}: cannot read tensors ({err})") from err
    _check_finite(weight, bias, path)
    return weight, bias


def _read_bfloat16(path: Path, names: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        weight, bias = (handle.get_tensor(k).float().numpy() for k in names)
    return weight, bias


def _weight_names(keys: set[str], path: Path) -> tuple[str, str]:
    for names in (WEIGHT_KEYS, LEGACY_KEYS):
        if set(names) <= keys:
            extra = keys - set(names)
            if extra:
                raise ESMError(f"{path}: unexpected tensors {sorted(extra)[:5]}; a linear ESM "
                               f"holds only {names[0]!r} and {names[1]!r}")
            return names
    raise ESMError(f"{path}: tensors {sorted(keys)[:5]} are not a linear ESM (expected "
                   f"{WEIGHT_KEYS[0]!r}/{WEIGHT_KEYS[1]!r} or the legacy "
                   f"{LEGACY_KEYS[0]!r}/{LEGACY_KEYS[1]!r})")


def _check_shapes(weight: tuple[int, ...], bias: tuple[int, ...], path: Path,
                  expected_dim: int | None) -> None:
    if len(weight) != 2 or len(bias) != 1 or weight[0] != bias[0]:
        raise ESMError(f"{path}: weight {weight} and bias {bias} do not form a linear map "
                       "(expected (D, D) and (D,))")
    if weight[0] != weight[1]:
        raise ESMError(f"{path}: weight {weight} is not square; an ESM maps the embedding "
                       "space onto itself")
    if weight[0] == 0:
        raise ESMError(f"{path}: weight {weight} is empty")
    if expected_dim is not None and weight[1] != expected_dim:
        raise IncompatibleESMError(f"{path}: maps {weight[1]}-d embeddings, but the "
                                   f"config/encoder has {expected_dim} dimensions")


def _check_finite(weight: np.ndarray, bias: np.ndarray, path: Path) -> None:
    for name, array in (("weight", weight), ("bias", bias)):
        finite = np.isfinite(array.astype(np.float32, copy=False))
        if not finite.all():
            raise ESMError(f"{path}: {name} has {int((~finite).sum())} NaN/inf values")


def load_esm(folder: str | os.PathLike, *, expected_dim: int | None = None,
             base_model: str | None = None) -> ESM:
    """Load and check an ESM folder (stepstone's or hfselect's, current or legacy layout).

    Raises ESMError (or IncompatibleESMError when ``expected_dim``/``base_model`` do not match).
    """
    from ..encode.models import canonical_model_name

    config = read_config(folder)
    if base_model is not None and \
            canonical_model_name(config.base_model_name) != canonical_model_name(base_model):
        raise IncompatibleESMError(f"{folder}: made for base model {config.base_model_name!r}, "
                                   f"not {base_model!r}")
    dim = config.esm_embedding_dim
    if expected_dim is not None and dim is not None and dim != expected_dim:
        raise IncompatibleESMError(f"{folder}: config says {dim}-d embeddings, the encoder has "
                                   f"{expected_dim}")
    weight, bias = read_weights(folder, expected_dim=dim or expected_dim)
    return ESM(weight=weight, bias=bias, config=config)


def save_esm(esm: ESM, folder: str | os.PathLike, *, dtype: str = "float16",
             extra_files: dict[str, dict[str, np.ndarray] | str] | None = None) -> Path:
    """Write an ESM folder atomically: files go to a temporary sibling folder that is renamed
    into place, so a crash never leaves a half-written ESM under ``folder``. Callers that may
    race on one folder hold the hub's per-ESM lock.

    The weights are always written in hfselect's current layout (``model.weight``/
    ``model.bias``) with ``"version"`` set to that layout's version, also for an ESM read from
    the legacy 0.1.0 layout: hfselect reads ``"version": "0.1.0"`` as "legacy keys", and would
    silently ignore ``model.*`` weights under it.

    ``extra_files`` maps file names to tensors saved beside the weights (e.g. source statistics;
    kept out of model.safetensors so hfselect's strict layout stays intact) or to text (e.g. a
    model card, README.md).
    """
    if dtype not in STORAGE_DTYPES:
        raise ValueError(f"dtype must be one of {sorted(STORAGE_DTYPES)}, got {dtype!r}")
    cast = STORAGE_DTYPES[dtype]
    weight, bias = esm.weight.astype(cast), esm.bias.astype(cast)
    if not (np.isfinite(weight).all() and np.isfinite(bias).all()):
        raise ESMError(f"{folder}: the ESM's weights are not finite as {dtype} (NaN/inf, or "
                       "beyond float16's range: save it as float32)")
    config = esm.config
    config.esm_embedding_dim = esm.dim
    config.version = HFSELECT_LAYOUT_VERSION
    config.stepstone = {**config.stepstone, "weight_dtype": dtype}
    with atomic_folder(folder) as tmp:
        write_safetensors(tmp / WEIGHTS_FILE, {"model.weight": weight, "model.bias": bias})
        for name, content in (extra_files or {}).items():
            if isinstance(content, str):
                write_text(tmp / name, content)
            else:
                write_safetensors(tmp / name, content)
        write_json(tmp / CONFIG_FILE, config.to_dict())
    return Path(folder)
