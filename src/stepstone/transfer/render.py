"""A transfer result as a text table, a one-line answer and a self-contained HTML report (the
page style of ``rank --html``, stepstone/_html.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._html import definitions, esc, page, table
from .stats import LEVEL

if TYPE_CHECKING:  # pragma: no cover
    from .result import CandidateResult, TransferResult

_PCT = f"{LEVEL:.0%}"
HEADER = ["candidate", "rank", "seeds", "mean", f"{_PCT} low", f"{_PCT} high", "gain (pts)",
          f"gain {_PCT} low", f"gain {_PCT} high", "P(beats none)", "status"]


def _points(value: float | None) -> float | None:
    return None if value is None else 100 * value


def _row(c: CandidateResult) -> list[Any]:
    return [c.source, c.rank, len(c.seeds), c.mean, c.low, c.high, _points(c.gain),
            _points(c.gain_low), _points(c.gain_high), c.p_better,
            c.status if not c.error else f"failed: {c.error}"]


def _fmt(value: Any, digits: int) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def result_table(result: TransferResult) -> str:
    """Fixed-width table, chosen candidate marked with '*'."""
    digits = [0, 0, 0, 4, 4, 4, 2, 2, 2, 2, 0]
    rows = [[("* " if c.source == result.chosen else "  ") + c.source] +
            [_fmt(v, d) for v, d in zip(_row(c)[1:-1], digits[1:-1])] + [_row(c)[-1]]
            for c in result.candidates]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(HEADER)]
    widths[-1] = len(HEADER[-1])
    lines = ["  ".join(h.ljust(w) if i in (0, 10) else h.rjust(w)
                       for i, (h, w) in enumerate(zip(HEADER, widths)))]
    for r in rows:
        lines.append("  ".join(v.ljust(w) if i in (0, 10) else v.rjust(w)
                               for i, (v, w) in enumerate(zip(r, widths))))
    return "\n".join(lines)


def summary_line(result: TransferResult) -> str:
    """The answer in one sentence."""
    name = result.target.get("name", "target")
    if result.chosen is None:
        return f"{name}: no candidate could be measured."
    chosen = result[result.chosen]
    where = result.evaluation.get("description", "held-out data")
    if chosen.is_reference:
        return (f"{name}: fine-tune directly (no intermediate step): {result.metric} "
                f"{chosen.mean:.4f} over {_seeds(chosen)} on {where}; no source still in "
                "contention scored higher on average.")
    gain = "" if chosen.gain is None else f", {100 * chosen.gain:+.2f} points over no " \
        "intermediate step"
    p = "" if chosen.p_better is None else f" (P(beats none) = {chosen.p_better:.2f})"
    return (f"{name}: fine-tune on {chosen.source} first: {result.metric} {chosen.mean:.4f} "
            f"over {_seeds(chosen)} on {where}{gain}{p}.")


def _seeds(candidate: CandidateResult) -> str:
    n = len(candidate.seeds)
    return f"{n} seed{'s' if n != 1 else ''}"


def result_html(result: TransferResult) -> str:
    """The whole report as one HTML document."""
    name = result.target.get("name", "target")
    numeric = [False, True, True, True, True, True, True, True, True, True, False]
    rows = [_row(c) for c in result.candidates]
    model = ([("model folder", result.model_path), ("its seed", result.model_seed),
              ("its score (the best of its seeds, so optimistic: the mean above is the "
               "estimate)", result.model_score)] if result.model_path else
             [("model folder", "none written")])
    parts = [f"<h1>Which intermediate step helps {esc(name)}? Measured.</h1>",
             f'<p class="advice">{esc(summary_line(result))}</p>',
             f'<p class="muted">{esc(result.stopped)}</p>',
             "<h2>Candidates</h2>",
             f'<p class="muted">{esc(result.metric)} on {esc(result.evaluation.get("description"))}'
             f"; intervals at {_PCT} over seeds (seed spread pooled over candidates); gains in "
             "points, paired by seed. Click a column header to sort by it.</p>",
             table(HEADER, rows, numeric=numeric),
             "<h2>Chosen model</h2>", definitions(model),
             "<h2>Target</h2>", definitions(_flat(result.target)),
             "<h2>Evaluation</h2>", definitions(_flat(result.evaluation)),
             "<h2>Settings</h2>", definitions(_flat(result.settings)),
             "<h2>Timings (s)</h2>", definitions([(k, f"{v:.1f}")
                                                 for k, v in result.timings.items()]),
             f'<p class="muted">stepstone {esc(result.library_version)}; work folder '
             f"{esc(result.work_dir)}</p>"]
    return page(f"stepstone transfer for {name}", "\n".join(parts))


def _flat(data: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(k, v if not isinstance(v, dict | list) else str(v)) for k, v in data.items()]
