"""``stepstone bench ...``: ground-truth transfer runs and selection metrics."""

from __future__ import annotations

from . import main


@main.group()
def bench() -> None:
    """Measure how well ranking methods select sources, with real fine-tuning."""
