"""On-disk embedding cache: one safetensors file per (model, pooling, max length, texts)."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np

from .._env import cache_dir
from .._io import write_safetensors
from .models import EmbeddingSpec

logger = logging.getLogger(__name__)


class EmbeddingCache:
    """Embeddings keyed by a hash of the embedding spec, the model identity and the text
    fingerprint. Files are written atomically; a corrupt or mismatching file is ignored (and
    recomputed), never trusted."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def key(self, spec: EmbeddingSpec, model_identity: str, fingerprint: str) -> str:
        payload = json.dumps({"spec": spec.to_dict(), "model": model_identity,
                              "texts": fingerprint}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:32]

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.safetensors"

    def get(self, key: str, *, expected_rows: int) -> np.ndarray | None:
        path = self.path(key)
        if not path.is_file():
            return None
        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        try:
            data = load_file(str(path))["embeddings"]
        except (SafetensorError, KeyError, OSError, ValueError) as err:
            logger.warning("ignoring unreadable cache file %s: %s", path, err)
            return None
        if data.ndim != 2 or data.shape[0] != expected_rows or not np.isfinite(data).all():
            logger.warning("ignoring cache file %s: shape %s, expected %d rows", path,
                           data.shape, expected_rows)
            return None
        return data

    def put(self, key: str, embeddings: np.ndarray, *, spec: EmbeddingSpec,
            fingerprint: str) -> None:
        metadata = {"spec": json.dumps(spec.to_dict()), "fingerprint": fingerprint}
        try:
            write_safetensors(self.path(key), {"embeddings": embeddings.astype(np.float32)},
                              metadata=metadata)
        except OSError as err:  # a read-only cache must not break ranking
            logger.warning("could not write embedding cache %s: %s", self.path(key), err)


def default_cache() -> EmbeddingCache:
    return EmbeddingCache(cache_dir() / "embeddings")
