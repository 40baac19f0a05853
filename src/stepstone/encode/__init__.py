"""Base model + tokenizer + pooling: texts -> sentence embeddings, with an on-disk cache."""

from .cache import EmbeddingCache, default_cache
from .encoder import Encoder
from .models import (EmbeddingSpec, PairMode, Pooling, auto_device, canonical_model_name,
                     default_pooling, load_base_model, load_tokenizer, pool, resolve_model_path)

__all__ = ["EmbeddingCache", "EmbeddingSpec", "Encoder", "PairMode", "Pooling", "auto_device",
           "canonical_model_name", "default_cache", "default_pooling", "load_base_model",
           "load_tokenizer", "pool", "resolve_model_path"]
