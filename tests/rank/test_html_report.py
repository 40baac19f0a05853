"""Ranking.to_html / _repr_html_: one parseable, self-contained, escaped document holding every
ranked source, every left-out reason, the target, the advice and the provenance."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from stepstone.rank import Skipped
from tests.rank.rankings import EVIL, advised_ranking, plain_ranking


class Page(HTMLParser):
    """Tags with attributes, text per element, and the rows of each table."""

    def __init__(self):
        super().__init__()
        self.tags, self.text, self.tables, self._cell, self.stack = [], [], [], None, []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self.stack.append(tag)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append(self._cell)
            self._cell = None
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data
        self.text.append((self.stack[-1] if self.stack else "", data))


def parse(document: str) -> Page:
    page = Page()
    page.feed(document)
    page.close()
    return page


def _column(page: Page, table: list[list[str]], header: str) -> list[str]:
    col = table[0].index(header)
    return [row[col] for row in table[1:]]


def _ranking_table(page: Page) -> list[list[str]]:
    return next(t for t in page.tables if t and t[0][:2] == ["rank", "source"])


def test_every_source_and_reason_is_in_the_document():
    ranking = plain_ranking(30)
    page = parse(ranking.to_html())
    table = _ranking_table(page)
    assert _column(page, table, "source") == [s.task_name for s in ranking.sources]  # all 30
    assert _column(page, table, "ESM id") == [s.esm_id for s in ranking.sources]
    left_out = next(t for t in page.tables if t and t[0] == ["ESM id", "reason"])
    assert left_out[1:] == [[s.esm_id, s.reason] for s in ranking.excluded + ranking.skipped]
    # the target and the provenance
    facts = {row[0]: row[1] for t in page.tables for row in t if len(row) == 2}
    assert facts["name"] == "my_target" and facts["examples"] == "300"
    assert facts["classes"] == "2: neg (120), pos (180)"
    assert facts["loaded from"] == "/data/my_target.csv [csv]"
    assert facts["hub"] == "/hubs/minilm"
    assert facts["embedding: model_name"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert facts["total"] == "2.000"  # timings
    # numbers sort by their exact value
    cells = [a for t, a in page.tags if t == "td" and "data-value" in a]
    assert float(cells[1]["data-value"]) == ranking.sources[0].score


def test_nothing_is_fetched_from_anywhere():
    document = plain_ranking(5).to_html()
    page = parse(document)
    for tag, attrs in page.tags:
        for name in ("src", "href", "action", "data", "poster"):
            if name in attrs:
                assert attrs[name].startswith("data:"), (tag, attrs[name][:40])
    outside_images = re.sub(r'"data:image/png;base64,[A-Za-z0-9+/=]*"', '""', document)
    assert not re.search(r"https?://|//[a-z]", outside_images)  # no URL at all, not in text
    assert "@import" not in document and "url(" not in document
    csp = [a["content"] for t, a in page.tags if a.get("http-equiv") ==
           "Content-Security-Policy"]
    assert csp and "default-src 'none'" in csp[0]
    images = [a for t, a in page.tags if t == "img"]
    assert len(images) == 1 and images[0]["src"].startswith("data:image/png;base64,")


def test_names_and_reasons_are_shown_as_text_never_run():
    evil_reason = '<img src=x onerror="alert(2)"> & "quotes"'
    ranking = plain_ranking(names=["fine", EVIL])
    ranking.skipped = [Skipped(EVIL, evil_reason)]
    document = ranking.to_html()
    page = parse(document)
    scripts = [a for t, a in page.tags if t == "script"]
    assert len(scripts) == 1  # our sorting script only
    assert [a["src"][:5] for t, a in page.tags if t == "img"] == ["data:"]  # the plot only
    assert EVIL not in document.split("<script>")[0]
    assert EVIL in _column(page, _ranking_table(page), "source")
    left_out = next(t for t in page.tables if t and t[0] == ["ESM id", "reason"])
    assert left_out[-1] == [EVIL, evil_reason]
    notebook = parse(ranking._repr_html_())
    assert [t for t, _ in notebook.tags if t == "script"] == []
    assert EVIL in _column(notebook, _ranking_table(notebook), "source")


def test_advice_fields_appear_when_present():
    ranking = advised_ranking(6)
    ranking.warnings = ["the target has only 40 examples"]
    page = parse(ranking.to_html())
    table = _ranking_table(page)
    assert "expected gain (pts)" in table[0] and "P(better than no transfer)" in table[0]
    assert _column(page, table, "expected gain (pts)")[:2] == ["3.00000", "2.75000"]
    advice = [d for tag, d in page.text if "Fine-tune on task_00 first" in d]
    assert advice and "the target has only 40 examples" in "".join(d for _, d in page.text)
    assert any("(no intermediate step)" in d for _, d in page.text)
    plain = parse(plain_ranking(3).to_html())
    assert "expected gain (pts)" not in _ranking_table(plain)[0]


def test_notebook_display_shows_the_plot_and_the_top_rows():
    ranking = plain_ranking(30)
    page = parse(ranking._repr_html_())
    assert [t for t, _ in page.tags if t == "img"] == ["img"]
    assert len(_ranking_table(page)) == 1 + 20
    assert any("and 10 more" in d for _, d in page.text)


def test_to_html_writes_the_same_document(tmp_path):
    ranking = plain_ranking(4)
    text = ranking.to_html(tmp_path / "r.html")
    assert (tmp_path / "r.html").read_text() == text
    assert text.startswith("<!DOCTYPE html>")
