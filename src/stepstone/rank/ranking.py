"""Ranking: the result of ranking a hub's sources for one target."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from .._io import write_json
from ..errors import FormatError
from .stability import Stability


@dataclass(frozen=True)
class RankedSource:
    """One source in a ranking (rank 1 = the most promising)."""

    rank: int
    esm_id: str
    task_name: str
    score: float
    task_type: str | None = None
    num_examples: int | None = None
    fit_cosine: float | None = None
    #: score minus the score of "no intermediate step" (``Ranking.reference``)
    margin: float | None = None
    #: predicted gain in points over fine-tuning on the target directly, its 80 % prediction
    #: interval and the probability that it beats no intermediate step (with an advice model)
    expected_gain: float | None = None
    gain_low: float | None = None
    gain_high: float | None = None
    p_better: float | None = None


#: The name of the reference row in tables and CSV files.
REFERENCE_NAME = "(no intermediate step)"
#: Per-source fields of ``Ranking.stability`` added to the pandas/CSV rows when present.
STABILITY_COLUMNS = ("share_first", "rank_low", "rank_high", "tied_with_first", "score_low",
                     "score_high")
#: version of :meth:`Ranking.to_dict`'s layout: a reader refuses a newer one instead of
#: misreading it (1: the layout of stepstone 0.1, which wrote no version)
FORMAT_VERSION = 1
#: Fields of RankedSource left out of tables and CSV files when no source has them.
OPTIONAL_FIELDS = ("margin", "expected_gain", "gain_low", "gain_high", "p_better")


@dataclass(frozen=True)
class Skipped:
    """A source left out of the ranking, and why (broken file, other base model, the target)."""

    esm_id: str
    reason: str


@dataclass(frozen=True)
class SelectedSource:
    """One source of a diverse selection (``--diverse K``), in pick order.

    ``redundancy`` is its largest similarity to a source picked before it (0 for the first);
    ``gain`` its marginal gain in the objective (``--diverse-objective coverage`` or
    ``ms-leep``; None for MMR).
    """

    esm_id: str
    task_name: str
    rank: int
    score: float
    redundancy: float
    gain: float | None = None


@dataclass
class Ranking:
    """Sources ordered by score (higher = better), plus what was left out and why."""

    target: dict[str, Any]
    method: str
    sources: list[RankedSource]
    skipped: list[Skipped] = field(default_factory=list)
    excluded: list[Skipped] = field(default_factory=list)
    embedding: dict[str, Any] = field(default_factory=dict)
    hub: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    library_version: str = ""
    #: a diverse top-k set (``rank_sources(diverse=k)``), empty otherwise
    selected: list[SelectedSource] = field(default_factory=list)
    #: how ``selected`` was made: k, tradeoff, similarity, candidates, left_out
    selection: dict[str, Any] = field(default_factory=dict)
    #: cautions about the result, e.g. a target too small for the benchmark's findings to hold
    warnings: list[str] = field(default_factory=list)
    #: "no intermediate step" scored by the same method: score, rank (where it would rank among
    #: the sources), kind ("identity map" / "base model"); None when the method has no such score
    reference: dict[str, Any] | None = None
    #: what to do and what it rests on (:mod:`stepstone.rank.recommend`): text, action
    #: ("fine-tune-first", "verify", "skip" or None), source, candidates, command, leaders
    #: (tied at the top), evidence (the benchmark's gain@k with its grid), advice (whether the
    #: gain columns are shown and why), and with a skilled advice model its expected_gain, low,
    #: high, p_better, model; None without benchmark evidence or an advice model
    recommendation: dict[str, Any] | None = None
    #: the leading sources re-ranked on bootstrap resamples of the target: share first, rank
    #: interval, tied with the first (:mod:`stepstone.rank.stability`); None when not computed
    stability: Stability | None = None

    def __len__(self) -> int:
        return len(self.sources)

    def __iter__(self):
        return iter(self.sources)

    def __getitem__(self, index: int | slice) -> RankedSource | list[RankedSource]:
        return self.sources[index]

    @property
    def names(self) -> list[str]:
        return [s.task_name for s in self.sources]

    def scores(self) -> dict[str, float]:
        """esm id -> score."""
        return {s.esm_id: s.score for s in self.sources}

    def top(self, k: int) -> Ranking:
        return replace(self, sources=self.sources[:k])

    # --- conversion ---------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        # the stability converts itself (its resampled matrix is not saved, so not copied here)
        out = {"format_version": FORMAT_VERSION, **asdict(replace(self, stability=None))}
        for row in out["sources"] + out["selected"]:
            row["score"] = None if not math.isfinite(row["score"]) else row["score"]
        out["stability"] = self.stability.to_dict() if self.stability else None
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Ranking:
        _check_format(data.get("format_version", 1))
        return cls(target=data["target"], method=data["method"],
                   sources=[RankedSource(**{**s, "score": _score(s["score"])})
                            for s in data["sources"]],
                   skipped=[Skipped(**s) for s in data.get("skipped", [])],
                   excluded=[Skipped(**s) for s in data.get("excluded", [])],
                   embedding=data.get("embedding", {}), hub=data.get("hub", ""),
                   timings=data.get("timings", {}),
                   library_version=data.get("library_version", ""),
                   selected=[SelectedSource(**{**s, "score": _score(s["score"])})
                             for s in data.get("selected", [])],
                   selection=data.get("selection", {}),
                   warnings=list(data.get("warnings", [])), reference=data.get("reference"),
                   recommendation=data.get("recommendation"),
                   stability=Stability.from_dict(data["stability"])
                   if data.get("stability") else None)

    def to_json(self, path: str | Path | None = None) -> str:
        text = json.dumps(self.to_dict(), indent=2)
        if path is not None:
            write_json(path, self.to_dict())
        return text

    @classmethod
    def from_json(cls, text_or_path: str | Path) -> Ranking:
        path = Path(text_or_path)
        text = path.read_text() if path.suffix == ".json" and path.is_file() else str(text_or_path)
        return cls.from_dict(json.loads(text))

    def present_fields(self) -> list[str]:
        """RankedSource fields that this ranking fills (optional ones only when some source
        has them: no advice model, no gain columns)."""
        return [f for f in RankedSource.__dataclass_fields__ if f not in OPTIONAL_FIELDS
                or any(getattr(s, f) is not None for s in self.sources)]

    def to_pandas(self):
        """One row per source, indexed by rank."""
        import pandas as pd

        frame = pd.DataFrame([asdict(s) for s in self.sources], columns=self.present_fields())
        if self.stability is not None:  # blank (NaN) below the re-scored top
            rows = self.stability.by_id()
            for column in STABILITY_COLUMNS:
                frame[column] = [getattr(rows[i], column) if i in rows else None
                                 for i in frame["esm_id"]]
            frame[["rank_low", "rank_high"]] = frame[["rank_low", "rank_high"]].astype("Int64")
        return frame.set_index("rank")

    def to_csv(self, path: str | Path | None = None) -> str:
        """The sources, then the reference row (rank empty, margin 0), with a ``recommended``
        column when there is a recommendation (the source to fine-tune on first, the sources
        to verify, or the reference row when it says "skip")."""
        import pandas as pd

        frame = self.to_pandas().reset_index()
        frame["rank"] = frame["rank"].astype("Int64")
        if self.reference is not None:
            row = {"rank": pd.NA, "esm_id": "", "task_name": REFERENCE_NAME,
                   "score": self.reference["score"]}
            if "margin" in frame:
                row["margin"] = 0.0
            frame = pd.concat([frame, pd.DataFrame([row])], ignore_index=True)
        rec = self.recommendation
        if rec is not None and rec.get("action", "") is not None:  # None: nothing to act on
            frame["recommended"] = [name in _recommended(rec) for name in frame["task_name"]]
        text = frame.to_csv(index=False)
        if path is not None:
            from .._io import write_text

            write_text(path, text)
        return text

    # --- display --------------------------------------------------------------------------------

    def table(self, k: int | None = None) -> str:
        """A fixed-width text table of the top ``k`` (all when None), with the reference row
        and, with an advice model, the predicted gain columns."""
        from .render.table import ranking_table

        return ranking_table(self, k)

    def recommendation_line(self) -> str:
        """The recommendation ("Fine-tune on X first", "verify the first k ... with `stepstone
        transfer ...`" or "fine-tune on your data directly"), then the benchmark evidence it
        rests on and why gain columns are missing (empty without a recommendation)."""
        from .render.table import recommendation_line

        return recommendation_line(self)

    def selection_table(self) -> str:
        """The diverse selection, one line per pick (empty when there is none)."""
        if not self.selected:
            return ""
        width = max([len(s.task_name) for s in self.selected] + [6])
        lines = [f"diverse top-{len(self.selected)} ({self.selection.get('similarity', '?')} "
                 f"similarity, tradeoff {self.selection.get('tradeoff', '?')}):",
                 f"{'pick':>4}  {'source':<{width}}  {'rank':>4}  {'score':>10}  "
                 f"{'redundancy':>10}"]
        for i, s in enumerate(self.selected, start=1):
            lines.append(f"{i:>4}  {s.task_name:<{width}}  {s.rank:>4}  {s.score:>10.5f}  "
                         f"{s.redundancy:>10.4f}")
        return "\n".join(lines)

    def plot(self, k: int = 20, ax: Any = None) -> Any:
        """Horizontal bars of the top ``k`` sources against "no intermediate step" (matplotlib
        Axes; a new figure when ``ax`` is None). See :mod:`stepstone.rank.render.plot`."""
        from .render.plot import plot_ranking

        return plot_ranking(self, k=k, ax=ax)

    def to_html(self, path: str | Path | None = None, *, k: int = 20) -> str:
        """The self-contained HTML report (plot of the top ``k``, full sortable table, left-out
        ESMs, provenance, timings); also written to ``path`` when given."""
        from .._io import write_text
        from .render.html_report import ranking_html

        document = ranking_html(self, k=k)
        if path is not None:
            write_text(path, document)
        return document

    def _repr_html_(self) -> str:
        from .render.html_report import notebook_html

        return notebook_html(self)

    def __str__(self) -> str:
        name = self.target.get("name", "target")
        head = (f"{self.method} ranking of {len(self.sources)} sources for {name} "
                f"({self.target.get('num_examples', '?')} examples, "
                f"{self.target.get('task_type', '?')})")
        notes = [f"left out {s.esm_id}: {s.reason}" for s in self.excluded + self.skipped]
        parts = [head] + [f"warning: {w}" for w in self.warnings] + [self.table(10)]
        parts += [self.stability.legend(), self.stability.describe()] if self.stability else []
        parts += [self.recommendation_line()] if self.recommendation else []
        parts += [self.selection_table()] if self.selected else []
        return "\n".join(parts + notes)


def _recommended(rec: dict[str, Any]) -> set[str]:
    """Rows a recommendation points at: the source to fine-tune on first, the sources to
    verify, or the reference row ("fine-tune on your data directly")."""
    if rec.get("action") == "verify":
        return set(rec.get("candidates") or [])
    return {rec["source"]} if rec.get("source") else {REFERENCE_NAME}


def _check_format(version: Any) -> None:
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise FormatError(f"this ranking was written in format version {version!r}; this "
                          f"stepstone reads versions up to {FORMAT_VERSION} (upgrade it)")


def _score(value: float | None) -> float:
    return float("nan") if value is None else value
