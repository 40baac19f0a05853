"""``report.html``: the benchmark's Markdown report as one self-contained HTML file, its PNG plots
inlined, so that a benchmark can be shared as a single file.

The converter handles the Markdown that ``report.py`` writes (headings, paragraphs with
``**bold**`` and `` `code` ``, fenced code, pipe tables, image lines), not Markdown at large: no
Markdown library is a dependency, and the subset is small. Everything is escaped before the
inline marks are turned into tags, so names in the tables cannot inject markup.
"""

from __future__ import annotations

import re
from pathlib import Path

from .._html import esc, page, png_img

_IMAGE = re.compile(r"^!\[(?P<alt>[^\]]*)\]\((?P<src>[^)]+)\)$")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_CODE = re.compile(r"`([^`]+)`")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_NUMBER = re.compile(r"^[-+−]?\d[\d,]*(\.\d+)?%?$")


def markdown_to_html(text: str, folder: Path) -> str:
    """The body HTML of a report; images are read from ``folder`` and inlined."""
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith("```")),
                       len(lines))
            out.append(f"<pre><code>{esc(chr(10).join(lines[i + 1:end]))}</code></pre>")
            i = end + 1
        elif line.startswith("|"):
            end = next((j for j in range(i, len(lines)) if not lines[j].startswith("|")),
                       len(lines))
            out.append(_table(lines[i:end]))
            i = end
        else:
            out.append(_line(line, folder))
            i += 1
    return "\n".join(part for part in out if part)


def _line(line: str, folder: Path) -> str:
    heading = re.match(r"^(#{1,6}) (.*)$", line)
    if heading:
        level = len(heading.group(1))
        return f"<h{level}>{_inline(heading.group(2))}</h{level}>"
    image = _IMAGE.match(line.strip())
    if image:
        path = folder / image.group("src")
        if path.is_file() and path.suffix.lower() == ".png":
            return f"<p>{png_img(path.read_bytes(), image.group('alt'))}</p>"
        return f"<p>[missing plot {esc(image.group('src'))}]</p>"
    return f"<p>{_inline(line)}</p>" if line.strip() else ""


def _inline(text: str) -> str:
    escaped = esc(text)
    return _CODE.sub(r"<code>\1</code>", _BOLD.sub(r"<b>\1</b>", escaped))


def _cells(line: str) -> list[str]:
    parts = _CELL_SPLIT.split(line.strip().strip("|"))
    return [p.strip().replace("\\|", "|") for p in parts]


def _table(lines: list[str]) -> str:
    header, body = _cells(lines[0]), [_cells(line) for line in lines[2:]]
    align = _cells(lines[1]) if len(lines) > 1 else []
    numeric = [a.endswith(":") for a in align] + [False] * len(header)
    heads = "".join(f'<th class="num">{_inline(h)}</th>' if numeric[c] else
                    f"<th>{_inline(h)}</th>" for c, h in enumerate(header))
    rows = []
    for row in body:
        cells = []
        for c, value in enumerate(row):
            if numeric[c] and _NUMBER.match(value):
                number = value.replace(",", "").replace("−", "-").rstrip("%")
                cells.append(f'<td class="num" data-value="{esc(number)}">{esc(value)}</td>')
            else:
                cells.append(f'<td class="num" data-value="">{_inline(value)}</td>'
                             if numeric[c] else f"<td>{_inline(value)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<table class="sortable">\n<thead><tr>{heads}</tr></thead>\n<tbody>\n'
            + "\n".join(rows) + "\n</tbody>\n</table>")


def write_report_html(markdown_path: Path) -> Path:
    """Write ``report.html`` next to ``markdown_path`` (its plots must be there too)."""
    folder = markdown_path.parent
    text = markdown_path.read_text(encoding="utf-8")
    title = next((line[2:] for line in text.splitlines() if line.startswith("# ")),
                 "Benchmark report")
    path = folder / "report.html"
    path.write_text(page(title.replace("`", ""), markdown_to_html(text, folder)),
                    encoding="utf-8")
    return path
