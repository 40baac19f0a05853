"""bfloat16 autocast: close to float32, never mixed up with it in the cache."""

from __future__ import annotations

import numpy as np
import pytest

from stepstone.encode import Encoder
from stepstone.errors import InvalidOptionError


def test_bfloat16_embeddings_are_close_to_float32_and_cached_apart(tiny_bert, toy_task):
    full = Encoder(tiny_bert, pooling="mean")
    half = Encoder(tiny_bert, pooling="mean", precision="bfloat16")
    a = full.embed_task(toy_task)
    b = half.embed_task(toy_task)
    assert half.forward_passes == len(toy_task)  # not served from float32's cache entry
    assert a.dtype == b.dtype == np.float32 and not np.array_equal(a, b)
    cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert cosine.min() > 1 - 1e-2
    again = Encoder(tiny_bert, pooling="mean", precision="bfloat16")
    np.testing.assert_array_equal(again.embed_task(toy_task), b)
    assert again.forward_passes == 0


def test_unknown_precision_lists_the_choices(tiny_bert):
    with pytest.raises(InvalidOptionError, match="float32, bfloat16"):
        Encoder(tiny_bert, precision="fp8")
