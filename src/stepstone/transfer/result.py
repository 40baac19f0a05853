"""What ``stepstone transfer`` found: per candidate the scores over seeds, the gain over no
intermediate step, the chosen candidate and the model folder handed over."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from .._io import write_json, write_text
from .candidates import NO_TRANSFER


@dataclass
class CandidateResult:
    """One candidate: a source (or NO_TRANSFER) and what its target fine-tunings scored."""

    source: str
    rank: int | None = None  # place in the ranking the candidates came from
    seeds: list[int] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    mean: float | None = None
    low: float | None = None  # interval over seeds (stats.LEVEL)
    high: float | None = None
    gain: float | None = None  # over NO_TRANSFER, paired by seed
    gain_low: float | None = None
    gain_high: float | None = None
    p_better: float | None = None  # P(beats no intermediate step)
    status: str = "measured"  # measured | dropped (fewer seeds: out of contention) | failed
    error: str | None = None

    @property
    def is_reference(self) -> bool:
        return self.source == NO_TRANSFER


@dataclass
class TransferResult:
    """The answer of :func:`stepstone.transfer.transfer`."""

    target: dict[str, Any]
    metric: str
    evaluation: dict[str, Any]  # where the scores were measured: split or held-out part, size
    candidates: list[CandidateResult]
    chosen: str | None
    model_path: str | None = None
    model_seed: int | None = None
    model_score: float | None = None
    stopped: str = ""  # why no more fine-tunings ran
    work_dir: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    library_version: str = ""

    def __getitem__(self, source: str) -> CandidateResult:
        for candidate in self.candidates:
            if candidate.source == source:
                return candidate
        raise KeyError(source)

    @property
    def fine_tunings(self) -> int:
        return sum(len(c.seeds) for c in self.candidates)

    def to_dict(self) -> dict[str, Any]:
        return _finite(asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TransferResult:
        data = dict(data)
        data["candidates"] = [CandidateResult(**c) for c in data.get("candidates", [])]
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_json(self, path: str | Path | None = None) -> str:
        if path is not None:
            write_json(path, self.to_dict())
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text_or_path: str | Path) -> TransferResult:
        path = Path(text_or_path)
        text = path.read_text() if path.suffix == ".json" and path.is_file() else str(text_or_path)
        return cls.from_dict(json.loads(text))

    def to_pandas(self):
        """One row per candidate (the seed lists as text)."""
        import pandas as pd

        rows = []
        for c in self.candidates:
            row = asdict(c)
            row["seeds"] = ",".join(map(str, c.seeds))
            row["scores"] = ",".join(f"{s:.4f}" for s in c.scores)
            row["chosen"] = c.source == self.chosen
            rows.append(row)
        return pd.DataFrame(rows).set_index("source")

    def table(self) -> str:
        from .render import result_table

        return result_table(self)

    def summary_line(self) -> str:
        from .render import summary_line

        return summary_line(self)

    def to_html(self, path: str | Path | None = None) -> str:
        from .render import result_html

        text = result_html(self)
        if path is not None:
            write_text(path, text)
        return text

    def __str__(self) -> str:
        return f"{self.summary_line()}\n{self.table()}"


def _finite(value: Any) -> Any:
    """NaN and infinities become None (JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
