"""Ranking.plot and `stepstone rank --plot`: sorted, labelled bars of the top k against the
"(no intermediate step)" reference, in score or expected-gain form."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402

from stepstone.rank.render.plot import GAIN_LABEL, caption, save_plot  # noqa: E402
from tests.rank.rankings import advised_ranking, plain_ranking  # noqa: E402


def _axes():
    return Figure().subplots()


def _bars(ax):
    """(left, right, y) of each bar, top to bottom as drawn."""
    rects = sorted(ax.patches, key=lambda r: r.get_y())
    return [(r.get_x(), r.get_x() + r.get_width(), r.get_y() + r.get_height() / 2)
            for r in rects]


def _vlines(ax):
    return [line.get_xdata()[0] for line in ax.get_lines()
            if len(set(line.get_xdata())) == 1 and len(line.get_xdata()) == 2]


def test_score_bars_are_sorted_labelled_and_end_at_the_scores():
    ranking = plain_ranking(25)
    ax = ranking.plot(k=20, ax=_axes())
    bars = _bars(ax)
    assert len(bars) == 20
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == [f"{i + 1}. task_{i:02d}" for i in range(20)]
    # rank 1 is drawn on top (the y axis runs downwards)
    assert ax.get_ylim()[0] > ax.get_ylim()[1]
    rights = [right for _, right, _ in bars]
    np.testing.assert_allclose(rights, [s.score for s in ranking.sources[:20]], rtol=1e-12)
    lefts = {left for left, _, _ in bars}
    assert len(lefts) == 1 and lefts.pop() < min(rights)  # one common base below every bar
    assert ax.get_xlabel() == "esm-logme score (higher is better)"
    assert _vlines(ax) == []  # no reference known: no line
    title = ax.get_title(loc="left")
    assert "top 20 of 25 ranked sources" in title
    assert "3 ESMs left out (2 unusable, 1 the target's own task)" in title


def test_the_reference_score_is_a_line_and_colours_the_bars():
    ranking = plain_ranking(10)
    ranking.reference = {"score": -0.7218, "rank": 4}
    ax = ranking.plot(ax=_axes())
    assert _vlines(ax) == [pytest.approx(-0.7218)]
    colours = [tuple(r.get_facecolor()) for r in sorted(ax.patches, key=lambda r: r.get_y())]
    above = [s.score > -0.7218 for s in ranking.sources]
    assert above == [True, True, True, False, False, False, False, False, False, False]
    assert len({colours[i] for i in range(3)}) == 1 and colours[0] != colours[3]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["(no intermediate step): -0.7218"]


def test_expected_gains_are_drawn_with_their_intervals():
    ranking = advised_ranking(16)
    ax = ranking.plot(k=12, ax=_axes())
    assert ax.get_xlabel() == GAIN_LABEL
    bars = _bars(ax)
    gains = [s.expected_gain for s in ranking.sources[:12]]
    np.testing.assert_allclose([right if right > left else left for left, right, _ in bars],
                               [max(g, 0) if g >= 0 else g for g in gains])
    np.testing.assert_allclose([min(left, right) for left, right, _ in bars],
                               [min(g, 0) for g in gains])
    assert 0.0 in _vlines(ax)  # "no intermediate step" at 0
    # the error bars span exactly [gain_low, gain_high] of each source
    segments = [c for c in ax.collections if hasattr(c, "get_segments")][0].get_segments()
    spans = sorted((seg[0][1], seg[0][0], seg[1][0]) for seg in segments)
    expected = sorted((i, s.gain_low, s.gain_high) for i, s in enumerate(ranking.sources[:12]))
    np.testing.assert_allclose(spans, expected)


def test_k_larger_than_the_ranking_and_an_empty_one():
    ranking = plain_ranking(3)
    assert len(_bars(ranking.plot(k=20, ax=_axes()))) == 3
    assert caption(ranking, 3).startswith("top 3 of 3 ranked sources")
    ranking.sources = []
    ax = ranking.plot(ax=_axes())
    assert _bars(ax) == [] and ax.texts[0].get_text() == "no source could be ranked"


def test_save_png_and_svg(tmp_path):
    ranking = plain_ranking(8)
    save_plot(ranking, str(tmp_path / "r.png"))
    save_plot(ranking, str(tmp_path / "r.svg"))
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert ET.parse(tmp_path / "r.svg").getroot().tag.endswith("svg")


def test_the_command_line_writes_plot_and_html(built, tmp_path):
    from click.testing import CliRunner

    from stepstone.cli import main

    target = built.pool / "alpha"
    runner = CliRunner()
    bad = runner.invoke(main, ["rank", str(target), "--hub", str(built.hub_root),
                               "--plot", str(tmp_path / "r.jpg")])
    assert bad.exit_code == 2 and "must end in .png, .svg, .pdf" in bad.output
    done = runner.invoke(main, ["rank", str(target), "--hub", str(built.hub_root), "-q",
                                "--plot", str(tmp_path / "r.svg"), "--html",
                                str(tmp_path / "r.html"), "--include-target"])
    assert done.exit_code == 0, done.output
    svg = ET.parse(tmp_path / "r.svg").getroot()
    assert svg.tag.endswith("svg")
    page = (tmp_path / "r.html").read_text()
    for name in ("alpha", "beta", "gamma"):
        assert f"<td>{name}</td>" in page
