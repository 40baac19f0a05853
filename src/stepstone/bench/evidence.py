"""gain@k from a ground-truth grid: what following a method's first k picks bought, with
intervals, written beside the hub for the ranking's recommendation (:mod:`stepstone.rank.evidence`).

gain@k of one target is the best measured result among the method's first k picks minus the
no-transfer baseline, in points (the result a user gets who fine-tunes through each of the k
and keeps the best; gain@1 is the report's gain@1). Ties in the method's scores count as a
random order, as everywhere in the benchmark. The interval resamples targets with replacement
and, within each drawn target, the seeds behind every cell and behind the baseline
(:mod:`stepstone.bench.uncertainty`), so it carries both the few targets and the fine-tuning
noise. Keeping the best of k measured means is slightly optimistic (the best of k noisy
results is picked on the same noise); the seed resampling shows how much.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from .. import __version__
from ..errors import StepstoneError
from ..rank.evidence import EVIDENCE_FILE, Evidence, GainAtK, MethodEvidence, read_evidence
from .evaluate import CEILING, NO_TRANSFER, Evaluation, GroundTruth
from .grids import Grid
from .uncertainty import GAIN_KS

LEVEL = 0.9


def evidence_from(grid: Grid, truth: GroundTruth, evaluation: Evaluation, *,
                  level: float = LEVEL, command: str = "") -> Evidence:
    """gain@1..5 of every method ``evaluation`` ranked the grid's targets with (and of a
    random order), from its bootstrap (``evaluate_methods(replicates > 0)``)."""
    boot = evaluation.boot
    if boot is None:
        raise StepstoneError("the evidence needs the bootstrap: evaluate_methods(replicates > 0)")
    methods = {}
    for method in boot.values:
        if method in (CEILING, NO_TRANSFER):  # not rankings a user can follow
            continue
        rows = [(k, *boot.interval(method, f"gain@{k}", level=level)) for k in GAIN_KS]
        if not any(n for *_, n in rows):
            continue
        methods[method] = MethodEvidence(
            method=method, targets=max(n for *_, n in rows),
            gain_at=[GainAtK(k=k, mean=m, low=lo, high=hi) for k, m, lo, hi, _ in rows])
    return Evidence(grid={"name": grid.name, "targets": len(truth.ranked_targets),
                          "sources": len(grid.sources), "seeds": len(grid.seeds),
                          "target_examples": grid.target_examples},
                    level=level, replicates=len(boot.target_draws), methods=methods,
                    created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                    library_version=__version__, command=command)


def save_evidence(evidence: Evidence, *, hub_root: str | os.PathLike,
                  results_dir: str | os.PathLike, cells_left: int,
                  path: str | os.PathLike | None = None) -> str:
    """Write ``evidence`` and say where and why there. The hub's evidence.json is what every
    `stepstone rank` of the hub cites, so by default it is replaced only by a complete grid
    (``cells_left == 0``) that has at least as many targets as the grid it came from; otherwise
    the file goes beside the grid's results and the hub's is kept. An explicit ``path`` is
    always written. A file from the same grid is merged (evaluating one more method keeps the
    others)."""
    hub_file, beside = Path(hub_root) / EVIDENCE_FILE, Path(results_dir) / EVIDENCE_FILE
    in_hub = None if path else read_evidence(hub_file)
    target, why = Path(path) if path else hub_file, ""
    if path is None and cells_left:
        target, why = beside, f"; the grid has {cells_left} cells left, so the hub's {hub_file} " \
            "is kept"
    elif in_hub is not None and in_hub.grid.get("name") != evidence.grid["name"] \
            and int(in_hub.grid.get("targets") or 0) > int(evidence.grid["targets"]):
        target, why = beside, (
            f"; the hub's {hub_file} comes from the {in_hub.describe_grid()}, more targets than "
            "this grid's, so it is kept (pass --evidence to choose the file)")
    old = read_evidence(target)  # a malformed one is replaced
    if old is not None and old.grid.get("name") == evidence.grid["name"]:
        evidence.methods = {**old.methods, **evidence.methods}
    evidence.save(target)
    return f"wrote {target} (gain@1..5 of {', '.join(sorted(evidence.methods))}){why}"
