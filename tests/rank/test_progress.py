"""The progress bars of one ranking follow each other: on the first ranking of a hub the
"Packing ESMs" bar is done before the "Scoring ESMs" bar is drawn (it used to be drawn inside
it)."""

from __future__ import annotations

import re
import shutil

from stepstone.hub import Hub
from stepstone.hub.packed import pack_folder
from stepstone.rank import rank_sources


def _bar_events(text: str) -> list[str]:
    """Bar names in the order they were drawn (each redraw of a bar is one event)."""
    return re.findall(r"(Packing ESMs|Scoring ESMs|Embedding [^:]*):", text)


def test_packing_finishes_before_scoring_starts(built, tmp_path, capsys):
    shutil.copytree(built.hub_root, tmp_path / "hub")
    hub = Hub(tmp_path / "hub")
    shutil.rmtree(pack_folder(hub), ignore_errors=True)  # the first ranking packs the hub
    rank_sources(built.pool / "alpha", hub=hub, show_progress=True, include_target=True)
    events = _bar_events(capsys.readouterr().err)
    assert "Packing ESMs" in events and "Scoring ESMs" in events
    last_packing = max(i for i, e in enumerate(events) if e == "Packing ESMs")
    first_scoring = events.index("Scoring ESMs")
    assert last_packing < first_scoring, events
    # a packed hub draws no packing bar at all
    rank_sources(built.pool / "alpha", hub=hub, show_progress=True, include_target=True)
    assert "Packing ESMs" not in _bar_events(capsys.readouterr().err)
