"""report.html: the benchmark's Markdown report as one HTML file, plots inlined, text escaped."""

from __future__ import annotations

import base64
from html.parser import HTMLParser

from stepstone.bench.report_html import markdown_to_html, write_report_html
from tests.helpers import REPO

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhf"
                       "DwAChwGA60e6kgAAAABJRU5ErkJggg==")


class Cells(HTMLParser):
    """Tags, and the text of every <td>/<th> row by row."""

    def __init__(self):
        super().__init__()
        self.tags, self.rows, self.cell = [], [], None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "tr":
            self.rows.append([])
        if tag in ("td", "th"):
            self.cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append(self.cell)
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def test_the_markdown_subset_becomes_escaped_html(tmp_path):
    (tmp_path / "plot.png").write_bytes(PNG)
    text = "\n".join([
        "# Report `grid`", "", "Share: **31%** of <pairs>.", "", "```bash", "a < b && c", "```",
        "", "| method | regret@1 |", "|---|---:|", "| esm-logme | 0.32 |",
        "| <b>x</b> \\| y | −2.4 |", "", "![plot.png](plot.png)", "![gone.png](gone.png)"])
    body = markdown_to_html(text, tmp_path)
    parser = Cells()
    parser.feed(body)
    assert "<h1>Report <code>grid</code></h1>" in body
    assert "<b>31%</b> of &lt;pairs&gt;." in body
    assert "<pre><code>a &lt; b &amp;&amp; c</code></pre>" in body
    assert parser.rows == [["method", "regret@1"], ["esm-logme", "0.32"],
                           ["<b>x</b> | y", "−2.4"]]
    values = [a.get("data-value") for t, a in parser.tags if t == "td" and "data-value" in a]
    assert values == ["0.32", "-2.4"]  # numbers sort as numbers
    images = [a["src"] for t, a in parser.tags if t == "img"]
    assert images == ["data:image/png;base64," + base64.b64encode(PNG).decode()]
    assert "[missing plot gone.png]" in body
    assert [t for t, _ in parser.tags].count("b") == 1  # the bold mark, not the table's <b>


def test_the_committed_report_converts_whole(tmp_path):
    source = REPO / "benchmarks" / "results" / "reduced"
    folder = tmp_path / "r"
    folder.mkdir()
    for path in source.glob("*.png"):
        (folder / path.name).write_bytes(path.read_bytes())
    markdown = (source / "report.md").read_text()
    (folder / "report.md").write_text(markdown)
    page = write_report_html(folder / "report.md").read_text()
    parser = Cells()
    parser.feed(page)
    table_lines = [line for line in markdown.splitlines() if line.startswith("|")]
    separators = [line for line in table_lines if line.startswith("|---")]
    assert len(parser.rows) == len(table_lines) - len(separators)
    assert page.count("data:image/png;base64,") == markdown.count("![")
    assert "http://" not in page and "https://" not in page
