"""Modules that moved out of ``hub/`` (issue 22) keep their old import paths, with a warning."""

from __future__ import annotations

import importlib
import sys

import pytest

from stepstone._moved import MOVED


@pytest.mark.parametrize("old", sorted(MOVED))
def test_an_old_module_path_gives_the_moved_module_with_a_warning(monkeypatch, old):
    new = importlib.import_module(MOVED[old])
    monkeypatch.delitem(sys.modules, old, raising=False)
    with pytest.warns(DeprecationWarning, match=f"{old} moved to {MOVED[old]}"):
        module = importlib.import_module(old)
    assert module is new  # the same functions and globals: patching one patches the other


def test_a_name_that_left_the_hub_package_is_still_importable_from_it():
    from stepstone.build import build_hub

    with pytest.warns(DeprecationWarning, match="stepstone.hub.build_hub moved"):
        from stepstone.hub import build_hub as old
    assert old is build_hub
    with pytest.raises(ImportError):
        from stepstone.hub import no_such_name  # noqa: F401
