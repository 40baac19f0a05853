"""The target's training and evaluation data for a transfer run.

Scores are measured on the target's validation split when it has one (never on its test split:
choosing a model on the test split would leave nothing honest to report it on), else on a
stratified held-out part of the training data, whose row numbers are recorded so the user can
keep them out of anything else.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..data.loaders import load_task
from ..data.task import TaskData
from ..errors import DataError, StepstoneError, TransferError

logger = logging.getLogger(__name__)

#: Fewest held-out examples a score is measured on, and fewest left to fine-tune on.
MIN_EVAL = 10
MIN_TRAIN = 10


@dataclass(frozen=True)
class TargetData:
    train: TaskData
    held: TaskData
    evaluation: dict[str, Any]  # where ``held`` comes from, in words and numbers


def stratified_holdout(labels: np.ndarray, size: int, *, seed: int, regression: bool,
                       bins: int = 5) -> np.ndarray:
    """Sorted indices of ``size`` examples drawn class by class in proportion (regression:
    by quantile bins of the label), at least one per class and never a whole class."""
    if regression:
        edges = np.quantile(labels, np.linspace(0, 1, bins + 1)[1:-1])
        groups = np.searchsorted(edges, labels, side="right")
    else:
        groups = np.asarray(labels)
    rng = np.random.default_rng(seed)
    names, counts = np.unique(groups, return_counts=True)
    share = np.clip(np.round(counts * size / len(labels)).astype(int), 1, counts - 1)
    chosen = [rng.permutation(np.flatnonzero(groups == name))[:k]
              for name, k in zip(names, share)]
    return np.sort(np.concatenate(chosen))


def needed_examples(task: TaskData, holdout: float) -> int:
    """The fewest training examples that leave MIN_EVAL held out and MIN_TRAIN to fine-tune."""
    return max(math.ceil(MIN_EVAL / holdout), MIN_EVAL + MIN_TRAIN)


def _check_size(task: TaskData, holdout: float) -> None:
    need = needed_examples(task, holdout)
    small = []
    if not task.is_regression:
        counts = np.bincount(task.labels, minlength=task.num_classes)
        names = task.label_names or [str(i) for i in range(len(counts))]
        small = [f"{names[i]!r} has {int(n)}" for i, n in enumerate(counts) if 0 < n < 2]
    if len(task) >= need and not small:
        return
    raise TransferError(
        f"target {task.name} is too small to hold out an evaluation set: it has {len(task)} "
        f"training examples and no validation split; holding out {holdout:.0%} needs at least "
        f"{need} examples ({MIN_EVAL} to evaluate on, {MIN_TRAIN} to fine-tune on)"
        + (f" and 2 of every class ({', '.join(small)})" if small else "")
        + ". Add examples, give a validation split (a pool folder with validation.jsonl), or "
        "raise --holdout.")


def _validation(target: Any, columns: dict[str, Any]) -> TaskData | None:
    """The target's validation split, if it has one (a single file has no other split)."""
    if isinstance(target, TaskData) or (isinstance(target, str | Path) and Path(target).is_file()):
        return None
    if not isinstance(target, str | Path):
        return None
    try:
        return load_task(target, split="validation", **columns)
    except (StepstoneError, DataError):
        return None


def target_data(target: Any, *, columns: dict[str, Any], num_examples: int | None,
                eval_examples: int | None, holdout: float, seed: int) -> TargetData:
    """Training sample and evaluation examples of ``target`` (see the module docstring).

    ``columns`` are load_task's column and type options; ``num_examples`` caps the training
    sample and ``eval_examples`` the evaluation set (seeded samples).
    """
    full = load_task(target, **columns)
    validation = _validation(target, {k: v for k, v in columns.items() if k != "split"}) \
        if columns.get("split") in (None, "train") else None
    if validation is not None and len(validation) >= MIN_EVAL:
        held = validation.sample(eval_examples, seed=seed)
        return TargetData(full.sample(num_examples, seed=seed), held, {
            "source": "validation split", "examples": len(held),
            "description": f"the validation split ({len(held)} examples)"})
    _check_size(full, holdout)
    size = max(MIN_EVAL, round(holdout * len(full)))
    held_idx = stratified_holdout(full.labels, size, seed=seed, regression=full.is_regression)
    rest = np.setdiff1d(np.arange(len(full)), held_idx)
    evaluated = held_idx
    if eval_examples is not None and len(held_idx) > eval_examples:
        pick = np.random.default_rng(seed).permutation(len(held_idx))[:eval_examples]
        evaluated = held_idx[np.sort(pick)]
    held = full.subset(evaluated)
    train = full.subset(rest).sample(num_examples, seed=seed)
    return TargetData(train, held, {
        "source": "held-out part of the training data", "examples": len(held),
        "fraction": holdout, "seed": seed, "stratified": True,
        # row numbers of the training split: kept out of every fine-tuning / scored on
        "held_out_rows": [int(i) for i in held_idx],
        "evaluated_rows": [int(i) for i in evaluated],
        "description": (f"{len(held)} examples of a stratified held-out {holdout:.0%} of the "
                        f"training data (seed {seed}; rows in evaluation.json)")})
