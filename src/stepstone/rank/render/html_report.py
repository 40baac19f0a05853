"""A ranking as one self-contained HTML file (``stepstone rank --html``, ``Ranking.to_html``) and
as a notebook cell (``Ranking._repr_html_``).

The report holds the target (name, size, type, classes, where it was loaded from), the
recommendation and warnings, the plot (a PNG inlined as a data: URI), the full ranking as a table
sortable by any column in the browser (inline script, no server), the ESMs left out with their
reasons, the embedding/hub provenance and the timings; with ``Ranking.stability`` a line on the
sources tied at the top and three columns (share first, rank interval, tied with #1), and the
recommendation with the evidence it rests on. Fields of the advice layer
(``reference``, ``recommendation``, per-source ``margin``, ``expected_gain``, ``gain_low``,
``gain_high``, ``p_better``) are shown when the ranking has them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..._html import definitions, esc, page, png_img, table
from .plot import REFERENCE_LABEL, plot_png, reference_score

if TYPE_CHECKING:  # pragma: no cover
    from ..ranking import Ranking

#: optional per-source columns (attribute, header), shown when any source has a value
ADVICE_COLUMNS = [("margin", "margin over no transfer"), ("expected_gain", "expected gain (pts)"),
                  ("gain_low", "80% low"), ("gain_high", "80% high"),
                  ("p_better", "P(better than no transfer)")]
#: how many sources the notebook display shows
NOTEBOOK_ROWS = 20
#: the report's notes and plot in a notebook (selectors scoped to the output cell's div)
NOTEBOOK_STYLE = (".stepstone-ranking .note{background:#fff4e5;border-left:4px solid #f0a020;"
                  "padding:.4em .8em;margin:.4em 0}"
                  ".stepstone-ranking .advice{background:#eaf5ea;border-left:4px solid #3a9a3a;"
                  "padding:.4em .8em;margin:.4em 0}"
                  ".stepstone-ranking .muted{color:#666}"
                  ".stepstone-ranking img.plot{max-width:100%;height:auto}"
                  ".stepstone-ranking td.num,.stepstone-ranking th.num{text-align:right}")


def ranking_html(ranking: Ranking, *, k: int = 20) -> str:
    """The whole report as an HTML document (the plot shows the top ``k``)."""
    name = ranking.target.get("name", "target")
    parts = [f"<h1>Which dataset to fine-tune on before {esc(name)}?</h1>",
             f'<p class="muted">{esc(_headline(ranking))}</p>',
             _advice(ranking), _warnings(ranking),
             "<h2>Target</h2>", definitions(_target_rows(ranking.target)),
             "<h2>Ranking</h2>", _plot(ranking, k), _reference_line(ranking),
             _stability(ranking), '<p class="muted">Click a column header to sort by it.</p>',
             _sources_table(ranking.sources, stability=ranking.stability)]
    if ranking.selected:
        parts += ["<h2>Diverse selection</h2>", _selection(ranking)]
    parts += ["<h2>Left out</h2>", _left_out(ranking),
              "<h2>Provenance</h2>", definitions(_provenance_rows(ranking)),
              "<h2>Timings</h2>", _timings(ranking.timings)]
    return page(f"stepstone: {ranking.method} ranking for {name}",
                "\n".join(p for p in parts if p))


def notebook_html(ranking: Ranking, *, k: int = NOTEBOOK_ROWS) -> str:
    """A fragment for Jupyter: headline, advice, warnings, plot and the top ``k`` rows."""
    more = len(ranking.sources) - k
    tail = (f'<p class="muted">... and {more} more (<code>ranking.to_html()</code> has them '
            "all)</p>" if more > 0 else "")
    parts = [f"<p><b>{esc(_headline(ranking))}</b></p>", _advice(ranking), _warnings(ranking),
             _plot(ranking, k), _reference_line(ranking), _stability(ranking),
             _sources_table(ranking.sources[:k], sortable=False,
                            stability=getattr(ranking, "stability", None)),
             tail, _left_out(ranking) if ranking.skipped or ranking.excluded else ""]
    return (f'<div class="stepstone-ranking"><style>{NOTEBOOK_STYLE}</style>'
            + "\n".join(p for p in parts if p) + "</div>")


def _headline(ranking: Ranking) -> str:
    t = ranking.target
    total = ranking.timings.get("total")
    took = f" in {total:.1f} s" if isinstance(total, int | float) else ""
    return (f"{ranking.method}: {len(ranking.sources)} sources ranked for {t.get('name')} "
            f"({t.get('num_examples', '?')} examples, {t.get('task_type', '?')}){took}")


def _advice(ranking: Ranking) -> str:
    """The recommendation and what it rests on (evidence, why gain columns are missing)."""
    from ..recommend import recommendation_text

    recommendation = getattr(ranking, "recommendation", None)
    if not isinstance(recommendation, dict) or not recommendation.get("text"):
        return ""
    lines = recommendation_text(recommendation).splitlines()
    rest = "".join(f'<br><span class="muted">{esc(line.strip())}</span>' for line in lines[1:])
    return f'<div class="advice">{esc(lines[0])}{rest}</div>'


def _stability(ranking: Ranking) -> str:
    result = getattr(ranking, "stability", None)
    if result is None:
        return ""
    return (f"<p><b>Stability.</b> {esc(result.describe())}.</p>"
            f'<p class="muted">{esc(result.legend())}.</p>')


def _warnings(ranking: Ranking) -> str:
    return "\n".join(f'<div class="note">{esc(w)}</div>'
                     for w in getattr(ranking, "warnings", None) or [])


def _target_rows(target: dict[str, Any]) -> list[tuple[str, Any]]:
    origin = target.get("origin") or {}
    rows: list[tuple[str, Any]] = [("name", target.get("name")),
                                   ("examples", target.get("num_examples")),
                                   ("type", target.get("task_type"))]
    if target.get("num_classes"):
        rows.append(("classes", _classes(target)))
    rows.append(("text pairs", "yes" if target.get("is_pair") else "no"))
    where = origin.get("location", "?")
    if origin.get("split"):
        subset = f", subset {origin['subset']}" if origin.get("subset") else ""
        where += f" (split {origin['split']}{subset})"
    rows += [("loaded from", f"{where} [{origin.get('kind', '?')}]"),
             ("columns", ", ".join(str(c) for c in (origin.get("text_column"),
                                                   origin.get("pair_column"),
                                                   origin.get("label_column")) if c))]
    if origin.get("total_examples") is not None:
        rows.append(("rows before sampling", origin["total_examples"]))
    if origin.get("num_examples") is not None:
        rows.append(("sample", f"{origin['num_examples']} examples, seed {origin.get('seed')}"))
    return rows


def _classes(target: dict[str, Any]) -> str:
    names = target.get("label_names") or []
    counts = target.get("class_counts") or {}
    if counts:
        listed = ", ".join(f"{label} ({count})" for label, count in counts.items())
    else:
        listed = ", ".join(str(n) for n in names)
    return f"{target['num_classes']}: {listed}" if listed else str(target["num_classes"])


def _plot(ranking: Ranking, k: int) -> str:
    if not ranking.sources:
        return "<p>No source could be ranked.</p>"
    return png_img(plot_png(ranking, k=k), alt=f"bar chart of the top {k} sources")


def _reference_line(ranking: Ranking) -> str:
    score = reference_score(ranking)
    if score is None:
        return ""
    return (f'<p>{esc(REFERENCE_LABEL)}: the base model scored by the same method, '
            f"<b>{score:.5f}</b>.</p>")


def _sources_table(sources: list[Any], *, sortable: bool = True, stability: Any = None) -> str:
    extra = [(attr, head) for attr, head in ADVICE_COLUMNS
             if any(getattr(s, attr, None) is not None for s in sources)]
    stable = stability.by_id() if stability is not None else None
    header = (["rank", "source", "ESM id", "score"] + [h for _, h in extra]
              + ([h for _, h in STABILITY_COLUMNS] if stable is not None else [])
              + ["type", "examples", "fit cos"])
    numeric = ([True, False, False, True] + [True] * len(extra)
               + ([True, False, False] if stable is not None else []) + [False, True, True])
    rows = [[s.rank, s.task_name, s.esm_id, s.score] + [getattr(s, a, None) for a, _ in extra]
            + (_stability_cells(stable.get(s.esm_id)) if stable is not None else [])
            + [s.task_type or "-", s.num_examples, s.fit_cosine] for s in sources]
    return table(header, rows, sortable=sortable, numeric=numeric, digits=5)


#: the stability cells of the table (rows outside the re-scored top are blank)
STABILITY_COLUMNS = [("share_first", "first in resamples"), ("ranks", "rank 90%"),
                     ("tied", "tied with #1")]


def _stability_cells(row: Any) -> list[Any]:
    if row is None:
        return [None, "", ""]
    ranks = (str(row.rank_low) if row.rank_low == row.rank_high
             else f"{row.rank_low}-{row.rank_high}")
    return [row.share_first, ranks, "yes" if row.tied_with_first else "no"]


def _selection(ranking: Ranking) -> str:
    sel = ranking.selection
    note = (f'<p class="muted">{esc(sel.get("similarity", "?"))} similarity, tradeoff '
            f'{esc(sel.get("tradeoff", "?"))}</p>')
    rows = [[i, s.task_name, s.rank, s.score, s.redundancy]
            for i, s in enumerate(ranking.selected, start=1)]
    return note + table(["pick", "source", "rank", "score", "redundancy"], rows,
                        numeric=[True, False, True, True, True])


def _left_out(ranking: Ranking) -> str:
    rows = [[s.esm_id, s.reason] for s in ranking.excluded + ranking.skipped]
    if not rows:
        return "<p>None: every ESM of the hub was ranked.</p>"
    return table(["ESM id", "reason"], rows)


def _provenance_rows(ranking: Ranking) -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = [("method", ranking.method), ("hub", ranking.hub)]
    rows += [(f"embedding: {key}", value) for key, value in ranking.embedding.items()]
    rows.append(("stepstone", ranking.library_version))
    return rows


def _timings(timings: dict[str, float]) -> str:
    if not timings:
        return "<p>Not recorded.</p>"
    return table(["step", "seconds"], [[k, float(v)] for k, v in timings.items()],
                 sortable=False, numeric=[False, True], digits=3)
