"""Self-contained HTML pages: one file, styles, script and images inlined, no network access.

Shared by the ranking report (``rank/render/html_report.py``) and the benchmark report
(``bench/report_html.py``). Written by hand because the job is small (a page shell, escaped
tables, base64 images) and no dependency of stepstone renders HTML. Everything that comes from
data (source names, reasons, paths) goes through :func:`esc`; the script reads the table from the
DOM and never evaluates data, and a Content-Security-Policy forbids every network request, so a
report opened from disk cannot fetch or run anything it was not written with.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Sequence
from typing import Any

#: no fetches of any kind; only the inline style and script, and images from data: URIs
CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
       "script-src 'unsafe-inline'; base-uri 'none'; form-action 'none'")

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;
max-width:72em;padding:0 1em;color:#1d1d1f;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.25em;margin-top:1.6em;
border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}
th,td{padding:.25em .7em;border-bottom:1px solid #e5e5e5;text-align:left;vertical-align:top}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
table.sortable th{cursor:pointer;user-select:none;background:#f5f5f7}
table.sortable th:hover{background:#e8e8ed}
th[aria-sort=ascending]::after{content:" \\25B2"}th[aria-sort=descending]::after{content:" \\25BC"}
.note{background:#fff4e5;border-left:4px solid #f0a020;padding:.5em .9em;margin:.6em 0}
.advice{background:#eaf5ea;border-left:4px solid #3a9a3a;padding:.5em .9em;margin:.6em 0;
font-size:1.05em}
.muted{color:#666;font-size:.9em}img.plot{max-width:100%;height:auto}
code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9em}
pre{background:#f5f5f7;padding:.6em;overflow-x:auto}
"""

#: click a header to sort by that column (numbers by their data-value), again to reverse
SORT_SCRIPT = """
document.querySelectorAll('table.sortable').forEach(function (table) {
  table.querySelectorAll('th').forEach(function (th, col) {
    th.addEventListener('click', function () {
      var body = table.tBodies[0];
      var asc = th.getAttribute('aria-sort') !== 'ascending';
      table.querySelectorAll('th').forEach(function (h) { h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
      var key = function (row) {
        var cell = row.cells[col];
        var v = cell.getAttribute('data-value');
        if (v === null) { return cell.textContent.trim().toLowerCase(); }
        var x = parseFloat(v);
        return isNaN(x) ? -Infinity : x;
      };
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var ka = key(a), kb = key(b);
        var c = ka < kb ? -1 : ka > kb ? 1 : 0;
        return asc ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
"""


def esc(value: Any) -> str:
    """Text for HTML content or a quoted attribute (quotes escaped too)."""
    return html.escape("" if value is None else str(value), quote=True)


def page(title: str, body: str, *, script: bool = True) -> str:
    """A complete HTML5 document around ``body`` (already escaped HTML)."""
    js = f"<script>{SORT_SCRIPT}</script>" if script else ""
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{esc(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}\n"
            f"{js}\n</body>\n</html>\n")


def png_img(data: bytes, alt: str) -> str:
    """An <img> holding PNG bytes as a data: URI."""
    encoded = base64.b64encode(data).decode("ascii")
    return f'<img class="plot" alt="{esc(alt)}" src="data:image/png;base64,{encoded}">'


def cell(value: Any, *, digits: int = 4) -> str:
    """One <td>: numbers right-aligned with their exact value in data-value (for sorting)."""
    if isinstance(value, bool) or value is None:
        return f"<td>{esc('' if value is None else value)}</td>"
    if isinstance(value, int | float):
        number = float(value)
        if not math.isfinite(number):
            return '<td class="num" data-value="">-</td>'
        text = f"{value:,}" if isinstance(value, int) else f"{number:.{digits}f}"
        return f'<td class="num" data-value="{number!r}">{esc(text)}</td>'
    return f"<td>{esc(value)}</td>"


def table(header: Sequence[str], rows: Sequence[Sequence[Any]], *, sortable: bool = True,
          numeric: Sequence[bool] | None = None, digits: int = 4) -> str:
    """An escaped <table>; ``numeric`` right-aligns those header cells."""
    numeric = numeric or [False] * len(header)
    heads = "".join(f'<th class="num">{esc(h)}</th>' if n else f"<th>{esc(h)}</th>"
                    for h, n in zip(header, numeric))
    body = "\n".join("<tr>" + "".join(cell(v, digits=digits) for v in row) + "</tr>"
                     for row in rows)
    kind = ' class="sortable"' if sortable else ""
    return f"<table{kind}>\n<thead><tr>{heads}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def definitions(pairs: Sequence[tuple[str, Any]]) -> str:
    """A two-column table of names and values (not sortable)."""
    rows = "\n".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in pairs)
    return f"<table>\n{rows}\n</table>"
