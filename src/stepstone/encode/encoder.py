"""Encoder: texts -> pooled sentence embeddings, length-sorted dynamic padding, cached on disk."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._env import DEFAULT_MODEL
from .._progress import progress
from ..data.task import TaskData
from .cache import EmbeddingCache, default_cache
from .models import (EmbeddingSpec, PairMode, Pooling, Precision, auto_device,
                     canonical_model_name, default_pooling, load_base_model, load_tokenizer, pool,
                     resolve_model_path)

logger = logging.getLogger(__name__)

SEP_STRING = " [SEP] "  # hfselect's separator for text pairs
MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def length_order(encoded: Any) -> np.ndarray:
    """Example indices, longest first: batches of similar length need little padding."""
    return np.argsort([-len(ids) for ids in encoded["input_ids"]], kind="stable")


def padded_batches(tokenizer: Any, encoded: Any, batches: Iterable[np.ndarray],
                   device: torch.device) -> Iterator[tuple[np.ndarray, dict[str, torch.Tensor]]]:
    """Pad each batch of (unpadded) tokenizer output to its own longest example.

    Yields ``(indices, model inputs on device)`` for each array of example indices.
    """
    keys = [k for k in MODEL_INPUTS if k in encoded]
    for idx in batches:
        features = {k: [encoded[k][i] for i in idx] for k in keys}
        batch = tokenizer.pad(features, return_tensors="pt")
        yield idx, {k: v.to(device) for k, v in batch.items()}


def chunks(order: np.ndarray, size: int) -> list[np.ndarray]:
    return [order[i:i + size] for i in range(0, len(order), size)]


class Encoder:
    """Base model + tokenizer + pooling.

    The model is loaded on first use, so a cache hit never touches it. ``module`` and
    ``tokenizer`` may be given to embed with an already loaded (e.g. fine-tuned) encoder; such an
    encoder does not use the cache unless ``cache_identity`` names it.

    Args:
        model_name: Hub id or local folder; aliases of all-MiniLM-L6-v2 resolve to the bundled copy.
        pooling: ``mean``/``cls``/``pooler``; default: mean for sentence-transformers models,
            pooler for BERT, cls otherwise.
        max_length: tokens per example (longer inputs are truncated).
        pair_mode: ``tokenizer`` (segment ids) or ``sep-string`` (hfselect's "a [SEP] b").
        device: torch device; default CUDA when present, else CPU.
        batch_size: examples per forward pass.
        cache: an EmbeddingCache, ``True`` for the default cache, ``False``/``None`` for none.
        precision: ``float32`` (default) or ``bfloat16`` (autocast; cached separately).
    """

    def __init__(self, model_name: str = DEFAULT_MODEL, *, pooling: Pooling | str | None = None,
                 max_length: int = 128, pair_mode: PairMode | str = PairMode.TOKENIZER,
                 device: str | torch.device | None = None, batch_size: int = 64,
                 cache: EmbeddingCache | bool | None = True, module: torch.nn.Module | None = None,
                 tokenizer: Any = None, cache_identity: str | None = None,
                 show_progress: bool | None = None,
                 precision: Precision | str = Precision.FLOAT32) -> None:
        pooling = Pooling.parse(pooling) if pooling is not None else default_pooling(model_name)
        self.spec = EmbeddingSpec(model_name=canonical_model_name(model_name), pooling=pooling,
                                  max_length=max_length, pair_mode=PairMode.parse(pair_mode))
        self.model_name = model_name
        self.device = auto_device(device)
        self.batch_size = batch_size
        self.show_progress = show_progress
        self._module = module
        self._tokenizer = tokenizer
        if module is not None and cache_identity is None:
            cache = None
        self.cache = default_cache() if cache is True else (cache or None)
        self.cache_identity = cache_identity or _model_identity(model_name)
        self.precision = Precision.parse(precision)
        if self.precision is not Precision.FLOAT32:  # other numbers: another cache entry
            self.cache_identity += f":{self.precision.value}"
        self.forward_passes = 0  # examples embedded by the model (a cache hit adds none)

    # --- lazy model ---------------------------------------------------------------------------

    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            self._tokenizer = load_tokenizer(self.model_name)
        return self._tokenizer

    @property
    def module(self) -> torch.nn.Module:
        if self._module is None:
            self._module = load_base_model(self.model_name)
        self._module.to(self.device).eval()
        return self._module

    @property
    def dim(self) -> int:
        return int(self.module.config.hidden_size)

    # --- tokenization -------------------------------------------------------------------------

    def tokenize(self, texts: Sequence[str], pairs: Sequence[str] | None = None) -> list[list[int]]:
        """Token ids per example, truncated to ``max_length`` (special tokens included)."""
        encoded = self.encode_inputs(texts, pairs)
        return [list(ids) for ids in encoded["input_ids"]]

    def encode_inputs(self, texts: Sequence[str], pairs: Sequence[str] | None) -> dict[str, list]:
        texts = list(texts)
        kwargs = dict(truncation=True, max_length=self.spec.max_length, padding=False)
        if pairs is None:
            return self.tokenizer(texts, **kwargs)
        if self.spec.pair_mode is PairMode.SEP_STRING:
            joined = [a + SEP_STRING + b for a, b in zip(texts, pairs)]
            return self.tokenizer(joined, return_token_type_ids=False, **kwargs)
        return self.tokenizer(texts, list(pairs), **kwargs)

    # --- embedding ----------------------------------------------------------------------------

    def embed(self, texts: Sequence[str], pairs: Sequence[str] | None = None, *,
              desc: str = "Embedding") -> np.ndarray:
        """Pooled embeddings, float32, shape (N, D), in input order."""
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        encoded = self.encode_inputs(texts, pairs)
        return self.embed_encoded(encoded, desc=desc)

    def embed_encoded(self, encoded: Any, *, desc: str = "Embedding") -> np.ndarray:
        """Embed tokenizer output (lists of ids, unpadded): batches of similar length."""
        # moved to the device outside inference mode: buffers created inside it would be
        # inference tensors and break a later backward pass through the same module
        module = self.module
        with torch.inference_mode():
            return self._embed_batches(module, encoded, desc=desc)

    def _embed_batches(self, module: torch.nn.Module, encoded: Any, *, desc: str) -> np.ndarray:
        ids = encoded["input_ids"]
        out = np.empty((len(ids), module.config.hidden_size), dtype=np.float32)
        bar = progress(total=len(ids), desc=desc, unit="ex", show=self.show_progress,
                       leave=False)
        batches = chunks(length_order(encoded), self.batch_size)
        autocast = torch.autocast(self.device.type, dtype=torch.bfloat16,
                                  enabled=self.precision is Precision.BFLOAT16)
        with bar, autocast:
            for batch_idx, batch in padded_batches(self.tokenizer, encoded, batches, self.device):
                output = module(**batch)
                pooled = pool(output.last_hidden_state, batch["attention_mask"],
                              getattr(output, "pooler_output", None), self.spec.pooling)
                out[batch_idx] = pooled.float().cpu().numpy()
                bar.update(len(batch_idx))
        self.forward_passes += len(ids)
        return out

    def embed_task(self, task: TaskData) -> np.ndarray:
        """Embeddings of a task's texts (and pairs), from the cache when they are there."""
        if self.cache is not None:
            key = self.cache.key(self.spec, self.cache_identity, task.fingerprint)
            hit = self.cache.get(key, expected_rows=len(task))
            if hit is not None:
                logger.info("embeddings of %s (%d examples) from cache", task.name, len(task))
                return hit
        embeddings = self.embed(task.texts, task.text_pairs, desc=f"Embedding {task.name}")
        if self.cache is not None:
            self.cache.put(key, embeddings, spec=self.spec, fingerprint=task.fingerprint)
        return embeddings


def _model_identity(name: str) -> str:
    """Cache identity of a model: its canonical name, plus weight-file sizes for local folders
    (so a model re-saved in place under the same name does not reuse stale embeddings)."""
    identity = canonical_model_name(name)
    folder = Path(resolve_model_path(name))
    if folder.is_dir():
        sizes = sorted((p.name, p.stat().st_size) for p in folder.glob("*.safetensors"))
        identity += ":" + ",".join(f"{n}={s}" for n, s in sizes)
    return identity
