"""The recommendation under a ranking, built from what is known and saying what it rests on.

Three things can back it, each optional:

- the **benchmark evidence** beside the hub (``evidence.json``): the method's measured gain
  from following its first pick and from trying its first k picks (:mod:`.evidence`);
- the **stability** of this ranking: which sources are tied with the first on the user's own
  sample (:mod:`.stability`);
- an **advice model** (``calibration.json``) whose leave-one-target-out evaluation shows skill:
  only then are its predicted gains shown, and its recommendation used.

The rule, in order: a skilled advice model recommends as before (the evidence is cited under
it); else, when the evidence shows that the first pick gains (its interval above zero), "fine-
tune on the first" (naming the sources tied with it); else "verify the tied leaders on your own
data", with the command that does it. A hub without evidence and without a skilled advice model
gets no recommendation (the ranking and its stability say all there is), only the line that
says why the gain columns are missing when it has an unskilled model.
"""

from __future__ import annotations

import os
import shlex
from typing import Any

from .evidence import RANDOM_METHOD, Evidence, GainAtK, MethodEvidence, load_evidence
from .ranking import RankedSource
from .stability import Stability

#: most sources a "verify" recommendation names
MAX_VERIFY = 5
#: fewest: verifying one source is "fine-tune on it", not a comparison
MIN_VERIFY = 2


def recommend_from_hub(hub_root: str | os.PathLike, **options: Any) -> dict[str, Any] | None:
    """:func:`build_recommendation` with the hub's evidence file (when it has one)."""
    evidence, path = load_evidence(hub_root)
    return build_recommendation(evidence=evidence, evidence_path=path, **options)


def build_recommendation(*, method: str, sources: list[RankedSource],
                         stability: Stability | None, evidence: Evidence | None,
                         evidence_path: str, advice: dict[str, Any] | None,
                         advice_status: dict[str, Any] | None,
                         target: dict[str, Any]) -> dict[str, Any] | None:
    """The recommendation dict (``Ranking.recommendation``), or None (see module docstring).

    ``advice`` is the advice model's own recommendation (only when it has skill);
    ``advice_status`` says whether the gain columns are shown and why."""
    if not sources:
        return None
    found = evidence.methods.get(method) if evidence is not None else None
    leaders = stability.tied if stability is not None else [sources[0].task_name]
    if advice is None and found is None:
        if advice_status is None:
            return None
        return {"text": f"No benchmark evidence for {method} beside this hub "
                        f"({evidence_path}): the ranking and its stability are what is known.",
                "action": None, "source": None, "leaders": leaders, "evidence": None,
                "advice": advice_status}
    cited = _cited(found, evidence, evidence_path, method) if found is not None else None
    out: dict[str, Any] = {"leaders": leaders, "evidence": cited, "advice": advice_status}
    if advice is not None:  # a skilled model: its target-specific advice leads
        action = "fine-tune-first" if advice.get("source") else "skip"
        return {**advice, **out, "action": action}
    first = sources[0]
    g1 = found.at(1)
    if g1 is not None and g1.shows_gain:
        ties = [n for n in leaders if n != first.task_name]
        tied = f" (tied with {', '.join(ties)} on your sample)" if ties else ""
        text = f"Fine-tune on {first.task_name} first{tied}."
        return {**out, "text": text, "action": "fine-tune-first", "source": first.task_name,
                "esm_id": first.esm_id, "rank": first.rank, "candidates": [first.task_name]}
    k = _verify_count(found, leaders)
    candidates = [s.task_name for s in sources[:k]]  # what `transfer --top k` fine-tunes
    command = f"stepstone transfer {shlex.quote(_target_arg(target))} --top {k}"
    if len(leaders) >= MIN_VERIFY:
        where = (f", and on your sample {len(leaders)} sources are tied at the top"
                 + (" (all that were re-scored)" if stability is not None
                    and len(leaders) == stability.leading else ""))
    else:
        where = ""
    text = (f"The benchmark does not show that {method}'s first pick helps{where}: verify "
            f"the first {k} ({', '.join(candidates)}) on your own data with `{command}`.")
    return {**out, "text": text, "action": "verify", "source": None, "candidates": candidates,
            "command": command}


def _verify_count(found: MethodEvidence, leaders: list[str]) -> int:
    """How many to verify: the tied leaders (at least 2, at most 5), or, when one leads, the
    smallest k whose measured gain@k lies above zero (else 3)."""
    if len(leaders) >= MIN_VERIFY:
        return min(len(leaders), MAX_VERIFY)
    shows = [g.k for g in found.gain_at if g.k >= MIN_VERIFY and g.shows_gain]
    return min(shows) if shows else 3


def _cited(found: MethodEvidence, evidence: Evidence, path: str, method: str
           ) -> dict[str, Any]:
    """The evidence fields and their sentence."""
    g1 = found.at(1)
    best = max((g for g in found.gain_at if g.k > 1), key=lambda g: g.low, default=None)
    parts = []
    if g1 is not None:
        parts.append(f"following {method}'s first pick gained {g1.text()} points")
    if best is not None:
        parts.append(f"the best of its first {best.k} {best.text()}")
    chance = evidence.methods.get(RANDOM_METHOD)
    if chance is not None and method != RANDOM_METHOD:  # what picking at random got
        shown = [g for g in (g1, best) if g is not None]
        parts.append("a random order: " + ", ".join(
            f"{'first pick' if g.k == 1 else f'best of {g.k}'} {chance.at(g.k).mean:+.1f}"
            for g in shown if chance.at(g.k) is not None))
    level = f"{evidence.level:.0%}"
    verdict = ("" if g1 is None or g1.shows_gain else
               "; the first pick's interval includes zero: no gain shown")
    text = (f"Evidence ({evidence.describe_grid()}; mean over targets [{level} interval]): "
            + "; ".join(parts) + verdict + ".")
    return {"text": text, "path": path, "grid": evidence.grid, "level": evidence.level,
            "method": method, "targets": found.targets,
            "gain_at": [_gain(g) for g in found.gain_at]}


def _gain(g: GainAtK) -> dict[str, Any]:
    return {"k": g.k, "mean": g.mean, "low": g.low, "high": g.high}


def _target_arg(target: dict[str, Any]) -> str:
    """How the user named the target (its location, else its name)."""
    origin = target.get("origin") or {}
    location = origin.get("location")
    return str(location) if location and location != "<memory>" else \
        str(target.get("name", "TARGET"))


def recommendation_text(rec: dict[str, Any] | None) -> str:
    """The recommendation with what it rests on, one statement a line (empty without one)."""
    if not rec:
        return ""
    lines = [rec.get("text") or ""]
    evidence = rec.get("evidence") or {}
    if evidence.get("text"):
        lines.append(f"  {evidence['text']}")
    advice = rec.get("advice") or {}
    if advice.get("reason") and not advice.get("shown"):
        lines.append(f"  {advice['reason']}.")
    if rec.get("note"):
        lines.append(f"  note: {rec['note']}")
    return "\n".join(line for line in lines if line)
