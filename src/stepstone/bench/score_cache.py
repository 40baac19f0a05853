"""Method scores kept between evaluations of a grid (``$STEPSTONE_CACHE/evaluate``).

Re-ranking every target with every method is most of what ``bench evaluate`` and ``bench
report`` cost (a quarter of an hour for all methods on the medium grid on two cores), and it
is repeated every time the ground truth grows, although a method's score of one source does
not depend on which other sources have been measured. So for the methods whose score of a
source depends on that source alone (:func:`is_independent`, read off the method's record), the
evaluation scores *all* of a target's candidate sources once and keeps the scores here; later
evaluations read them and pick out the sources measured so far. Methods that depend on the pool
(ETran, NCTI, fusions, transfer-graph, taskemb), read the tuned models (not part of the key) or
read nothing per source (random: nothing worth keeping) are always recomputed.

A kept score is used only when everything it was computed from is the same: the method and
its options, the target and its training sample, every candidate's ESM (its digest) and the
code that computes scores (a digest of the ``data``, ``encode``, ``esm``, ``hub``, ``rank`` and
``scores`` packages, less the modules of :data:`NOT_SCORING`), so a fix to a method recomputes
its scores by itself, while an edit to the rendering or to the learned selector keeps them.
Files are JSON, written atomically; an unreadable one is recomputed.
"""

from __future__ import annotations

import hashlib
import json
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

from .._env import cache_dir
from .._io import write_json
from ..hub.hub import Hub

logger = logging.getLogger(__name__)

#: The packages whose code decides a method's scores.
SCORING_PACKAGES = ("data", "encode", "esm", "hub", "rank", "scores")

#: Modules of those packages that no kept score is computed with: rendering, the
#: recommendation and its evidence, stability, and the learned selector (a whole-pool method,
#: never kept). Left out of the digest so that working on them keeps half an hour of scores;
#: tests/bench/test_score_cache.py checks that every kept method scores with their functions
#: disabled. A path names a module or a folder, relative to the ``stepstone`` package.
NOT_SCORING = ("rank/render", "rank/recommend.py", "rank/evidence.py", "rank/stability.py",
               "rank/methods/learned.py")


def is_independent(method: str) -> bool:
    """Whether ``method``'s scores are kept: a source's score depends on that source alone
    (not the pool), on what the key covers (not the tuned models), and reads something per
    source (else recomputing costs nothing)."""
    from ..errors import InvalidOptionError
    from ..rank.registry import Execution, Need, get_method

    try:
        info = get_method(method)
    except InvalidOptionError:
        return False
    return (info.execution is Execution.PER_SOURCE and bool(info.needs)
            and Need.TUNED_MODELS not in info.needs)


def is_not_scoring(relative: str) -> bool:
    """Whether the module at ``relative`` (``rank/render/plot.py``) is one of
    :data:`NOT_SCORING`."""
    return any(relative == p or relative.startswith(p.rstrip("/") + "/") for p in NOT_SCORING)


@lru_cache(maxsize=1)
def code_digest() -> str:
    """sha256 of the source files of :data:`SCORING_PACKAGES` but :data:`NOT_SCORING` (names
    and contents)."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for package in SCORING_PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            if is_not_scoring(path.relative_to(root).as_posix()):
                continue
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


class ScoreCache:
    """``<folder>/<key>.json``: one method's scores of one target's candidates."""

    def __init__(self, folder: str | Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else cache_dir() / "evaluate"

    def key(self, *, method: str, target: str, num_examples: int, seed: int, hub: Hub,
            candidates: list[str], options: dict[str, Any]) -> dict[str, Any]:
        """Everything the scores were computed from (``candidates``: ESM ids)."""
        from ..rank.advice import esm_digest

        entries = {e.id: e for e in hub.entries(ids=candidates)}
        return {"method": method, "target": str(Path(target).resolve())
                if Path(target).exists() else target, "num_examples": num_examples,
                "seed": seed, "options": json.loads(json.dumps(options, sort_keys=True,
                                                               default=str)),
                "esms": {i: esm_digest(entries[i]) if i in entries else None
                         for i in sorted(candidates)},
                "code": code_digest()}

    def _path(self, key: dict[str, Any]) -> Path:
        text = json.dumps(key, sort_keys=True)
        return self.folder / f"{hashlib.sha256(text.encode()).hexdigest()[:32]}.json"

    def get(self, key: dict[str, Any]) -> dict[str, float] | None:
        path = self._path(key)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as err:
            logger.warning("ignoring the unreadable score cache file %s (%s)", path, err)
            return None
        if data.get("key") != key:  # a hash collision, or a file edited by hand
            return None
        return {k: float(v) for k, v in data["scores"].items()}

    def put(self, key: dict[str, Any], scores: dict[str, float]) -> None:
        try:
            write_json(self._path(key), {"key": key, "scores": scores})
        except OSError as err:  # a read-only cache only costs the recomputation
            logger.warning("could not keep scores in %s (%s)", self.folder, err)
