from __future__ import annotations

import numpy as np
import pytest
import torch

from stepstone.encode import Encoder
from stepstone.finetune.fisher import fisher_task_embedding, fit_head
from stepstone.finetune.model import SequenceModel


@pytest.fixture
def tiny_model(tiny_bert):
    encoder = Encoder(tiny_bert, pooling="mean", cache=False)
    torch.manual_seed(0)
    model = SequenceModel(encoder.module, pooling=encoder.spec.pooling, num_outputs=3)
    return model, encoder


def test_fisher_embedding_does_not_depend_on_batching(tiny_model, toy_task):
    model, encoder = tiny_model
    targets = toy_task.labels % 3
    small = fisher_task_embedding(model, encoder.tokenizer, encoder.spec, toy_task, targets,
                                  regression=False, batch_size=1)
    large = fisher_task_embedding(model, encoder.tokenizer, encoder.spec, toy_task, targets,
                                  regression=False, batch_size=16)
    assert sorted(small) == ["layer_0", "layer_1", "layer_2", "pooled"]
    for name in small:
        assert small[name].shape == (32,)
        np.testing.assert_allclose(small[name], large[name], rtol=1e-4, atol=1e-12)


def test_pooled_component_is_the_mean_squared_head_gradient(tiny_model, toy_task):
    # for softmax cross-entropy, d(−log p_y)/d(embedding) = Wᵀ(p − onehot(y))
    model, encoder = tiny_model
    targets = toy_task.labels % 3
    fisher = fisher_task_embedding(model, encoder.tokenizer, encoder.spec, toy_task, targets,
                                   regression=False)
    emb = encoder.embed(toy_task.texts).astype(np.float64)
    w = model.head.weight.detach().double().numpy()
    b = model.head.bias.detach().double().numpy()
    logits = emb @ w.T + b
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    grads = (p - np.eye(3)[targets]) @ w
    np.testing.assert_allclose(fisher["pooled"], (grads**2).mean(0), rtol=1e-4)


def test_regression_fisher_uses_the_gaussian_likelihood(tiny_model, toy_task):
    model, encoder = tiny_model
    model.head = torch.nn.Linear(32, 1)
    targets = np.linspace(-1, 1, len(toy_task))
    fisher = fisher_task_embedding(model, encoder.tokenizer, encoder.spec, toy_task, targets,
                                   regression=True)
    emb = encoder.embed(toy_task.texts).astype(np.float64)
    w = model.head.weight.detach().double().numpy()[0]
    residual = emb @ w + float(model.head.bias.detach()) - targets
    np.testing.assert_allclose(fisher["pooled"], ((residual[:, None] * w) ** 2).mean(0),
                               rtol=1e-4)


def test_fit_head():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 4))
    labels = (x[:, 0] + x[:, 1] > 0).astype(int)
    head = fit_head(x, labels, outputs=2, regression=False)
    predicted = head(torch.as_tensor(x, dtype=torch.float32)).argmax(1).numpy()
    assert (predicted == labels).mean() > 0.95
    y = x @ [1.0, -2.0, 0.0, 0.5] + 3.0
    head = fit_head(x, y, outputs=1, regression=True, weight_decay=0.0)
    np.testing.assert_allclose(head.weight.detach().numpy()[0], [1.0, -2.0, 0.0, 0.5],
                               atol=1e-5)
    assert float(head.bias.detach()) == pytest.approx(3.0, abs=1e-5)
