"""Fine-tune a base model (or an already tuned encoder) on a labelled task."""

from __future__ import annotations

import copy
import logging
import random
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from .._env import DEFAULT_MODEL
from .._progress import progress
from ..data.task import TaskData
from ..encode.encoder import Encoder, chunks, length_order, padded_batches
from ..encode.models import Pooling, auto_device
from .model import SequenceModel, TrainingLog, TunedModel, standardisation

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FineTuneConfig:
    """Fine-tuning hyper-parameters; the defaults are the paper's (3 epochs, batch 32, AdamW
    lr 2e-5, weight decay 0.01, linear decay without warm-up, gradient clipping at 1.0)."""

    epochs: int = 3
    batch_size: int = 32
    learning_rate: float = 2e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.0
    max_grad_norm: float = 1.0
    seed: int = 42

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def length_grouped_batches(lengths: list[int], batch_size: int, rng: np.random.Generator,
                           group: int = 50) -> list[np.ndarray]:
    """Random batches of similar length: shuffle, sort within groups of ``group`` batches, then
    shuffle the batches. Cuts padding (and CPU time) while keeping batches random."""
    order = rng.permutation(len(lengths))
    chunk = batch_size * group
    batches = []
    for start in range(0, len(order), chunk):
        part = order[start:start + chunk]
        part = part[np.argsort([-lengths[i] for i in part], kind="stable")]
        batches.extend(part[i:i + batch_size] for i in range(0, len(part), batch_size))
    rng.shuffle(batches)
    return batches


def fine_tune(task: TaskData, *, model_name: str = DEFAULT_MODEL,
              config: FineTuneConfig = FineTuneConfig(), pooling: Pooling | str | None = None,
              max_length: int = 128, device: str | torch.device | None = None,
              start_from: TunedModel | None = None, show_progress: bool | None = None,
              desc: str | None = None) -> TunedModel:
    """Fine-tune all weights of the base model plus a new head on ``task``.

    Classification trains a C-way head with cross-entropy; regression a 1-output head with MSE on
    standardised labels. ``start_from`` continues from a tuned model's encoder (its head is
    replaced): that is intermediate-task transfer.
    """
    device = auto_device(device)
    seed_everything(config.seed)
    if start_from is not None:
        encoder_module = copy.deepcopy(start_from.model.encoder)
        tokenizer, spec = start_from.tokenizer, start_from.spec
    else:
        base = Encoder(model_name, pooling=pooling, max_length=max_length, cache=False)
        encoder_module, tokenizer, spec = base.module, base.tokenizer, base.spec
        encoder_module = copy.deepcopy(encoder_module)
    tokenize = Encoder(spec.model_name, pooling=spec.pooling, max_length=spec.max_length,
                       pair_mode=spec.pair_mode, cache=False, module=encoder_module,
                       tokenizer=tokenizer)
    encoded = tokenize.encode_inputs(task.texts, task.text_pairs)
    shift, scale = standardisation(task.labels) if task.is_regression else (0.0, 1.0)
    targets = torch.as_tensor((task.labels - shift) / scale if task.is_regression else task.labels)
    torch.manual_seed(config.seed)  # head initialisation depends only on the seed
    model = SequenceModel(encoder_module, pooling=spec.pooling,
                          num_outputs=1 if task.is_regression else task.num_classes).to(device)
    log = _train(model, encoded, targets, tokenizer=tokenizer, config=config,
                 regression=task.is_regression, device=device, show_progress=show_progress,
                 desc=desc or f"Fine-tuning on {task.name}")
    model.eval()
    return TunedModel(model=model, tokenizer=tokenizer, spec=spec, task=task.summary(),
                      config=config.to_dict(), log=log, label_shift=shift, label_scale=scale)


def _train(model: SequenceModel, encoded: Any, targets: torch.Tensor, *, tokenizer: Any,
           config: FineTuneConfig, regression: bool, device: torch.device,
           show_progress: bool | None, desc: str) -> TrainingLog:
    from transformers import get_linear_schedule_with_warmup

    lengths = [len(ids) for ids in encoded["input_ids"]]
    steps_per_epoch = -(-len(lengths) // config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate,
                                  weight_decay=config.weight_decay)
    scheduler = get_linear_schedule_with_warmup(
        optimizer, num_warmup_steps=int(config.warmup_ratio * total_steps),
        num_training_steps=total_steps)
    loss_fn = nn.MSELoss() if regression else nn.CrossEntropyLoss()
    rng = np.random.default_rng(config.seed)
    log = TrainingLog(device=str(device))
    started = time.perf_counter()
    model.train()
    with progress(total=total_steps, desc=desc, unit="step", show=show_progress) as bar:
        for _ in range(config.epochs):
            epoch_loss, seen = 0.0, 0
            batches = length_grouped_batches(lengths, config.batch_size, rng)
            for batch_idx, batch in padded_batches(tokenizer, encoded, batches, device):
                target = targets[batch_idx].to(device)
                output = model(**batch)
                loss = loss_fn(output.squeeze(-1), target.float()) if regression else \
                    loss_fn(output, target)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
                optimizer.step()
                scheduler.step()
                epoch_loss += loss.item() * len(batch_idx)
                seen += len(batch_idx)
                log.steps += 1
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.4f}", refresh=False)
            log.epochs += 1
            log.examples_seen += seen
            log.epoch_losses.append(epoch_loss / max(seen, 1))
    log.seconds = time.perf_counter() - started
    logger.info("%s: %d steps in %.0f s (%.1f examples/s), final loss %.4f", desc, log.steps,
                log.seconds, log.examples_per_second, log.epoch_losses[-1])
    return log


def predict(tuned: TunedModel, task: TaskData, *, batch_size: int = 64,
            device: str | torch.device | None = None) -> np.ndarray:
    """Class ids (classification) or values on the original label scale (regression)."""
    device = auto_device(device)
    model = tuned.model.to(device).eval()  # outside inference mode: the model stays trainable
    with torch.inference_mode():
        logits = _logits(tuned, model, task, batch_size=batch_size, device=device)
    if tuned.is_regression:
        return logits[:, 0] * tuned.label_scale + tuned.label_shift
    return logits.argmax(axis=1)


def _logits(tuned: TunedModel, model: SequenceModel, task: TaskData, *, batch_size: int,
            device: torch.device) -> np.ndarray:
    tokenize = Encoder(tuned.spec.model_name, pooling=tuned.spec.pooling,
                       max_length=tuned.spec.max_length, pair_mode=tuned.spec.pair_mode,
                       cache=False, module=model.encoder, tokenizer=tuned.tokenizer)
    encoded = tokenize.encode_inputs(task.texts, task.text_pairs)
    logits = np.zeros((len(task), model.head.out_features), dtype=np.float32)
    batches = chunks(length_order(encoded), batch_size)
    for idx, batch in padded_batches(tuned.tokenizer, encoded, batches, device):
        logits[idx] = model(**batch).float().cpu().numpy()
    return logits
