"""Fisher-information task embeddings (TaskEmb, Vu et al., EMNLP 2020), in a CPU-sized form.

Vu et al. fine-tune BERT on a task and average, over the task's examples, the squared gradients
of log p(y | x) with respect to every parameter tensor and every layer's activations. Here only
the activations are used: the hidden states after the embedding layer and after each
transformer layer (squared gradients averaged over the non-padding tokens) and the pooled
sentence embedding, one D-dimensional vector per component. Activation gradients of a batch's
summed loss are exactly the per-example gradients, so the result is the diagonal empirical
Fisher information, independent of batch size and order (the reference squares batch-summed
parameter gradients, which is not). No parameter gradient is ever accumulated.

log p(y | x) is the cross-entropy of the true class, or for regression the Gaussian
log-likelihood ½(ŷ − y)² on standardised labels (the TaskEmb paper's "with labels" variant).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..data.task import TaskData
from ..encode.encoder import Encoder, chunks, length_order, padded_batches
from ..encode.models import EmbeddingSpec, auto_device, pool
from .model import SequenceModel


def fisher_task_embedding(model: SequenceModel, tokenizer, spec: EmbeddingSpec, task: TaskData,
                          targets: np.ndarray, *, regression: bool, batch_size: int = 32,
                          device: str | torch.device | None = None) -> dict[str, np.ndarray]:
    """Per-component diagonal Fisher information of ``model`` on ``task``.

    ``targets``: class ids (N,) or standardised regression values (N,). Returns
    ``{"layer_0": (D,), ..., "layer_L": (D,), "pooled": (D,)}`` float64.
    """
    device = auto_device(device)
    model = model.to(device).eval()
    tokenize = Encoder(spec.model_name, pooling=spec.pooling, max_length=spec.max_length,
                       pair_mode=spec.pair_mode, cache=False, module=model.encoder,
                       tokenizer=tokenizer)
    encoded = tokenize.encode_inputs(task.texts, task.text_pairs)
    targets_t = torch.as_tensor(targets)
    sums: dict[str, torch.Tensor] = {}
    batches = chunks(length_order(encoded), batch_size)
    for idx, batch in padded_batches(tokenizer, encoded, batches, device):
        output = model.encoder(**batch, output_hidden_states=True)
        hidden = list(output.hidden_states)
        pooled = pool(output.last_hidden_state, batch["attention_mask"],
                      getattr(output, "pooler_output", None), spec.pooling)
        loss = _negative_log_likelihood(model.head(pooled), targets_t[idx].to(device),
                                        regression)
        grads = torch.autograd.grad(loss, [*hidden, pooled])
        mask = batch["attention_mask"].unsqueeze(-1).to(grads[0].dtype)
        for layer, grad in enumerate(grads[:-1]):
            per_example = ((grad**2) * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            _accumulate(sums, f"layer_{layer}", per_example.sum(0))
        _accumulate(sums, "pooled", (grads[-1] ** 2).sum(0))
    return {name: (total.double() / len(task)).cpu().numpy() for name, total in sums.items()}


def _negative_log_likelihood(outputs: torch.Tensor, targets: torch.Tensor,
                             regression: bool) -> torch.Tensor:
    """Summed over the batch, so activation gradients are per-example gradients."""
    if regression:
        return 0.5 * ((outputs.squeeze(-1) - targets.float()) ** 2).sum()
    return nn.functional.cross_entropy(outputs, targets.long(), reduction="sum")


def _accumulate(sums: dict[str, torch.Tensor], name: str, value: torch.Tensor) -> None:
    sums[name] = sums[name] + value.detach() if name in sums else value.detach()


def fit_head(features: np.ndarray, targets: np.ndarray, *, outputs: int, regression: bool,
             weight_decay: float = 1e-4, steps: int = 100) -> nn.Linear:
    """A linear head on frozen embeddings: softmax regression (L-BFGS, L2 ``weight_decay``) or,
    for regression, ridge least squares on the given (standardised) targets.

    Shapes: features (N, D), targets (N,) -> nn.Linear(D, outputs).
    """
    x = torch.as_tensor(np.asarray(features, dtype=np.float64))
    head = nn.Linear(x.shape[1], outputs).double()
    if regression:
        x_aug = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], 1)
        penalty = weight_decay * len(x) * torch.eye(x_aug.shape[1], dtype=x.dtype)
        penalty[-1, -1] = 0.0  # the intercept is not penalised
        y = torch.as_tensor(np.asarray(targets, dtype=np.float64)).reshape(-1, 1)
        solution = torch.linalg.solve(x_aug.T @ x_aug + penalty, x_aug.T @ y)
        with torch.no_grad():
            head.weight.copy_(solution[:-1].T)
            head.bias.copy_(solution[-1])
        return head.float()
    y = torch.as_tensor(np.asarray(targets, dtype=np.int64))
    optimizer = torch.optim.LBFGS(head.parameters(), max_iter=steps, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(head(x), y) + weight_decay * (head.weight**2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return head.float()
