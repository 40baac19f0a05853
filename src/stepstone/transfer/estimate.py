"""How long a transfer run will take, from fine-tuning speed measured on this machine."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field, replace

from ..data.task import TaskData
from ..finetune.train import FineTuneConfig, fine_tune, predict

#: Examples of the target in the timing probe (two batches: the first carries warm-up costs).
PROBE_EXAMPLES = 64


@dataclass(frozen=True)
class Speed:
    """Fine-tuning speed measured here: seconds per training example-epoch and per predicted
    example, plus the fixed cost of one fine-tuning (loading the model, tokenising)."""

    train: float
    predict: float
    overhead: float

    def run_seconds(self, examples: int, epochs: int, held: int) -> float:
        return self.overhead + self.train * examples * epochs + self.predict * held


def measure_speed(train: TaskData, *, model_name: str, config: FineTuneConfig,
                  device: str | None) -> Speed:
    """One short fine-tuning of the base model (one epoch on up to PROBE_EXAMPLES examples of
    the target) and one prediction pass, timed apart."""
    probe = train.subset(list(range(min(len(train), PROBE_EXAMPLES))))
    began = time.perf_counter()
    tuned = fine_tune(probe, model_name=model_name, config=replace(config, epochs=1),
                      device=device, show_progress=False, desc="Measuring fine-tuning speed")
    tuned_at = time.perf_counter()
    predict(tuned, probe, device=device)
    predict_seconds = time.perf_counter() - tuned_at
    # the first step carries warm-up costs: the estimate errs long, which a budget prefers
    per_example = tuned.log.seconds / max(tuned.log.examples_seen, 1)
    overhead = max(tuned_at - began - tuned.log.seconds, 0.0)
    return Speed(per_example, predict_seconds / len(probe), overhead)


@dataclass
class Estimate:
    """Seconds per target fine-tuning and per source fine-tuning still to make."""

    target_seconds: float
    source_seconds: list[float] = field(default_factory=list)
    measured: list[float] = field(default_factory=list)

    @classmethod
    def make(cls, speed: Speed | None, *, measured: list[float], train: int, held: int,
             epochs: int, source_work: list[int]) -> Estimate:
        """``speed`` measured by :func:`measure_speed` (None: derived from the ``measured``
        seconds of earlier runs); ``source_work`` the example-epochs of every source model
        still to fine-tune."""
        if speed is None:
            per_run = statistics.median(measured)
            speed = Speed(per_run / max(train * epochs + held, 1), 0.0, 0.0)
        else:
            per_run = speed.run_seconds(train, epochs, held)
        return cls(target_seconds=per_run,
                   source_seconds=[speed.run_seconds(w, 1, 0) for w in source_work],
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
