"""How long a transfer run will take, from fine-tuning speed measured on this machine."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field, replace

from ..data.task import TaskData
from ..finetune.train import FineTuneConfig, fine_tune, predict

#: Examples of the target in the timing probe (two batches: the first carries warm-up costs).
PROBE_EXAMPLES = 64


def measure_speed(train: TaskData, *, model_name: str, config: FineTuneConfig,
                  device: str | None) -> float:
    """Seconds per training example and epoch, from one short fine-tuning of the base model
    (one epoch on up to PROBE_EXAMPLES examples of the target)."""
    probe = train.subset(list(range(min(len(train), PROBE_EXAMPLES))))
    began = time.perf_counter()
    tuned = fine_tune(probe, model_name=model_name, config=replace(config, epochs=1),
                      device=device, show_progress=False, desc="Measuring fine-tuning speed")
    predict(tuned, probe, device=device)
    # training dominates; one prediction pass over the probe is charged like a training epoch,
    # which over-counts prediction (no backward pass) a little: the estimate errs long
    return (time.perf_counter() - began) / (2 * len(probe))


@dataclass
class Estimate:
    """Seconds per target fine-tuning and per source fine-tuning still to make."""

    target_seconds: float
    source_seconds: list[float] = field(default_factory=list)
    measured: list[float] = field(default_factory=list)

    @classmethod
    def make(cls, speed: float | None, *, measured: list[float], train: int, held: int,
             epochs: int, source_work: list[int]) -> Estimate:
        """``speed`` seconds per example-epoch (None: derived from ``measured`` runs);
        ``source_work`` the example-epochs of every source model still to fine-tune."""
        if speed is None:
            per_run = statistics.median(measured)
            speed = per_run / max(train * epochs + held, 1)
        else:
            per_run = speed * (train * epochs + held)
        return cls(target_seconds=per_run, source_seconds=[speed * w for w in source_work],
                   measured=list(measured))

    def record(self, seconds: float) -> None:
        """A finished target fine-tuning: later estimates follow the measured times."""
        self.measured.append(seconds)
        self.target_seconds = statistics.median(self.measured)

    def next_seconds(self, needs_source: bool) -> float:
        source = max(self.source_seconds, default=0.0) if needs_source else 0.0
        return self.target_seconds + source

    def message(self, runs: int, budget: float | None) -> str:
        total = runs * self.target_seconds + sum(self.source_seconds)
        text = (f"Estimate from fine-tuning speed on this machine: about {_duration(total)} for "
                f"at most {runs} target fine-tunings ({_duration(self.target_seconds)} each)")
        if self.source_seconds:
            text += (f" and {len(self.source_seconds)} source fine-tunings "
                     f"({_duration(sum(self.source_seconds))})")
        text += "; successive halving usually needs fewer."
        if budget is not None:
            text += f" Budget: {_duration(budget)}."
        return text


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
