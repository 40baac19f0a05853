"""What the benchmark measured, kept beside a hub (``evidence.json``), for the recommendation.

``stepstone bench report`` and ``stepstone bench evidence`` write it from a ground-truth grid:
per ranking method, gain@k for k = 1..5, the gain in points over fine-tuning on the target
directly of the best of the method's first k picks (k = 1: following its first pick), averaged
over the grid's targets, with a bootstrap interval over targets and seeds
(:mod:`stepstone.bench.evidence`). A ranking reads it to say what its recommendation rests on;
a hub without the file gets the ranking and its stability only.

The file is plain data: nothing here computes from ground truth.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .._io import write_json
from ..errors import AdviceError

logger = logging.getLogger(__name__)

EVIDENCE_FILE = "evidence.json"
FORMAT = "stepstone-evidence"
VERSION = 1
#: the evidence row of a random order (bench/evaluate.py's RANDOM), cited for comparison
RANDOM_METHOD = "random (expected)"


@dataclass(frozen=True)
class GainAtK:
    """Mean gain (points) of the best of the first ``k`` picks over the grid's targets, and
    its bootstrap interval."""

    k: int
    mean: float
    low: float
    high: float

    @property
    def shows_gain(self) -> bool:
        """The interval lies above zero."""
        return self.low > 0

    def text(self) -> str:
        return f"{self.mean:+.1f} [{self.low:+.1f}, {self.high:+.1f}]"


@dataclass(frozen=True)
class MethodEvidence:
    method: str
    targets: int
    gain_at: list[GainAtK]

    def at(self, k: int) -> GainAtK | None:
        return next((g for g in self.gain_at if g.k == k), None)


@dataclass
class Evidence:
    """gain@k per method on one grid (see the module docstring)."""

    grid: dict[str, Any]  # name, targets, sources, seeds, target_examples
    level: float
    replicates: int
    methods: dict[str, MethodEvidence] = field(default_factory=dict)
    created: str = ""
    library_version: str = ""
    command: str = ""

    def describe_grid(self) -> str:
        """"grid medium: 12 targets x 23 sources x 3 seeds, 500 training examples each"."""
        g = self.grid
        return (f"grid {g.get('name', '?')}: {g.get('targets', '?')} targets x "
                f"{g.get('sources', '?')} sources x {g.get('seeds', '?')} seeds, "
                f"{g.get('target_examples', '?')} training examples each")

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": VERSION, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, origin: str = "evidence") -> Evidence:
        if data.get("format") != FORMAT or data.get("version", 0) > VERSION:
            raise AdviceError(f"{origin} is not a stepstone evidence file of version <= "
                              f"{VERSION}; rewrite it with `stepstone bench evidence`")
        try:
            methods = {name: MethodEvidence(method=m["method"], targets=m["targets"],
                                            gain_at=[GainAtK(**g) for g in m["gain_at"]])
                       for name, m in data.get("methods", {}).items()}
            return cls(grid=data["grid"], level=data["level"], replicates=data["replicates"],
                       methods=methods, created=data.get("created", ""),
                       library_version=data.get("library_version", ""),
                       command=data.get("command", ""))
        except (KeyError, TypeError) as err:
            raise AdviceError(f"{origin} is malformed ({err}); rewrite it with `stepstone "
                              "bench evidence`") from err

    def save(self, path: str | os.PathLike) -> Path:
        """Write the file (atomically); returns its path."""
        write_json(path, self.to_dict())
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Evidence:
        """Read a file written by :meth:`save` (AdviceError when unreadable or malformed)."""
        try:
            text = Path(path).read_text(encoding="utf-8")
            return cls.from_dict(json.loads(text), origin=str(path))
        except (OSError, ValueError) as err:
            if isinstance(err, AdviceError):
                raise
            raise AdviceError(f"cannot read the evidence file {path}: {err}") from err


def load_evidence(hub_root: str | os.PathLike) -> tuple[Evidence | None, str]:
    """The hub's evidence file (None when it has none or it cannot be read: logged) and its
    path."""
    path = Path(hub_root) / EVIDENCE_FILE
    if not path.is_file():
        return None, str(path)
    try:
        return Evidence.load(path), str(path)
    except AdviceError as err:
        logger.warning("benchmark evidence left out: %s", err)
        return None, str(path)


def advice_skill(evaluation: dict[str, Any], grid: str | None) -> tuple[bool, str]:
    """Whether the advice model's stored leave-one-target-out evaluation beats both of its
    references (mean absolute error of the gain below a constant's, Brier score of P(gain > 0)
    below the base rate's), and one line saying so."""
    keys = ("mae", "mae_constant", "brier", "brier_base_rate")
    if not all(isinstance(evaluation.get(k), int | float) for k in keys):
        return False, ("gain columns left out: the advice model was fitted without a "
                       "leave-one-target-out evaluation (refit it with `stepstone bench "
                       "calibrate`), so its skill is unknown")
    e = evaluation
    figures = (f"leave-one-target-out on the {grid or '?'} grid's {e.get('targets', '?')} "
               f"targets: gain error {e['mae']:.2f} vs {e['mae_constant']:.2f} for a constant, "
               f"Brier {e['brier']:.3f} vs {e['brier_base_rate']:.3f} for the base rate")
    if e["mae"] < e["mae_constant"] and e["brier"] < e["brier_base_rate"]:
        return True, f"gain columns: the advice model beats its references ({figures})"
    return False, (f"gain columns left out: the advice model has no skill out of sample "
                   f"({figures})")
