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


def read_evidence(path: str | os.PathLike) -> Evidence | None:
    """The evidence file at ``path``; None when there is none or it cannot be read (logged)."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        return Evidence.load(path)
    except AdviceError as err:
        logger.warning("benchmark evidence left out: %s", err)
        return None


def load_evidence(hub_root: str | os.PathLike) -> tuple[Evidence | None, str]:
    """The hub's evidence file (None when it has none or it cannot be read: logged) and its
    path."""
    path = Path(hub_root) / EVIDENCE_FILE
    return read_evidence(path), str(path)


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


def meets_advice_bar(quality: dict[str, Any]) -> bool:
    """The bar a learned selector's per-source gains must pass to be shown (issue 25), on its
    nested leave-one-target-out evaluation: a Brier score of P(gain > 0) at most 0.9x the base
    rate's, a mean absolute error below a constant's and 80 % intervals covering 75-85 %."""
    keys = ("brier", "brier_base_rate", "mae", "mae_constant", "coverage")
    if not all(isinstance(quality.get(k), int | float) for k in keys):
        return False
    return (quality["brier"] <= 0.9 * quality["brier_base_rate"]
            and quality["mae"] < quality["mae_constant"]
            and 0.75 <= quality["coverage"] <= 0.85)


def selector_skill(advice: dict[str, Any] | None, grid: str | None) -> tuple[bool, str]:
    """Whether a learned selector's stored advice evaluation passes :func:`meets_advice_bar`,
    and one line saying so."""
    if not advice or not isinstance(advice.get("brier"), int | float):
        return False, ("gain columns left out: the learned selector was fitted without an "
                       "advice evaluation (refit it with `stepstone bench calibrate`), so its "
                       "skill is unknown")
    a = advice
    figures = (f"nested leave-one-target-out on the {grid or '?'} grid's "
               f"{a.get('targets', '?')} targets: Brier {a['brier']:.3f} vs "
               f"{a['brier_base_rate']:.3f} for the base rate, gain error {a['mae']:.2f} vs "
               f"{a['mae_constant']:.2f} for a constant, 80 % intervals covering "
               f"{a.get('coverage', float('nan')):.0%}")
    if meets_advice_bar(a):
        return True, f"gain columns: the learned selector passes the bar ({figures})"
    return False, ("gain columns left out: the learned selector's gains miss the bar (Brier "
                   f"<= 0.9x the base rate's, error below a constant's, coverage 75-85 %; "
                   f"{figures})")
