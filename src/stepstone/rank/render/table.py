"""The fixed-width text table of a ranking, with its reference row and advice columns."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..stability import TABLE_HEAD, table_cells

if TYPE_CHECKING:  # pragma: no cover
    from ..ranking import RankedSource, Ranking


def _signed(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:+.{digits}f}"


def _interval(row: RankedSource) -> str:
    if row.gain_low is None or row.gain_high is None:
        return "-"
    return f"{row.gain_low:+.1f} to {row.gain_high:+.1f}"


def ranking_table(ranking: Ranking, k: int | None = None) -> str:
    """Rank, source, score, [margin over the reference], [expected gain, 80 % interval,
    P(better than no intermediate step)], [stability: share first, rank interval, tied with
    rank 1], type, examples, ESM fit; the reference row sits where
    it ranks (after a "..." line when that is below the rows shown)."""
    from ..ranking import REFERENCE_NAME

    rows = ranking.sources if k is None else ranking.sources[:k]
    present = set(ranking.present_fields())
    margin, advice = "margin" in present, "expected_gain" in present
    names = [r.task_name for r in rows] + ([REFERENCE_NAME] if ranking.reference else [])
    width = max([len(n) for n in names] + [6])
    head = f"{'rank':>4}  {'source':<{width}}  {'score':>10}"
    if margin:
        head += f"  {'margin':>9}"
    if advice:
        head += f"  {'gain':>5}  {'80% interval':>14}  {'P(>none)':>8}"
    stable = getattr(ranking, "stability", None)
    if stable is not None:
        head += f"  {TABLE_HEAD}"
    head += f"  {'type':<14}  {'examples':>8}  {'fit cos':>7}"
    lines = [head]
    for r in rows:
        line = f"{r.rank:>4}  {r.task_name:<{width}}  {r.score:>10.5f}"
        if margin:
            line += f"  {_signed(r.margin, 5):>9}"
        if advice:
            p = "-" if r.p_better is None else f"{r.p_better:.2f}"
            line += f"  {_signed(r.expected_gain):>5}  {_interval(r):>14}  {p:>8}"
        if stable is not None:
            line += f"  {table_cells(stable, r.esm_id)}"
        cos = f"{r.fit_cosine:.4f}" if r.fit_cosine is not None else "-"
        line += f"  {(r.task_type or '-'):<14}  {r.num_examples or '-':>8}  {cos:>7}"
        lines.append(line)
    if ranking.reference is not None:
        _insert_reference(lines, ranking.reference, rows, width, margin=margin)
    return "\n".join(lines)


def _insert_reference(lines: list[str], reference: dict[str, Any], rows: list[RankedSource],
                      width: int, *, margin: bool) -> None:
    from ..ranking import REFERENCE_NAME

    rank = int(reference["rank"])
    line = f"{f'({rank})':>4}  {REFERENCE_NAME:<{width}}  {reference['score']:>10.5f}"
    if margin:
        line += f"  {'0':>9}"
    line += f"  {reference.get('kind', ''):<14}"
    position = rank  # lines[0] is the header: source of rank r is lines[r]
    if rows and rank > rows[-1].rank:
        lines.extend([f"{'...':>4}", line] if rank > rows[-1].rank + 1 else [line])
    else:
        lines.insert(position, line)


def recommendation_line(ranking: Ranking) -> str:
    """The recommendation under the table, with what it rests on (empty without one)."""
    from ..recommend import recommendation_text

    return recommendation_text(ranking.recommendation)
