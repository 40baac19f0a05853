"""Markdown tables from DataFrames (pandas' to_markdown needs the optional `tabulate`)."""

from __future__ import annotations

import math
from typing import Any


def _cell(value: Any, digits: int) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return f"{value:.{digits}f}"
    return str(value).replace("|", "\\|")


def markdown_table(frame: Any, *, digits: int = 3) -> str:
    """A GitHub-flavoured Markdown table of a DataFrame (index dropped; numbers right-aligned)."""
    columns = [str(c) for c in frame.columns]
    numeric = [frame[c].dtype.kind in "fiu" for c in frame.columns]
    lines = ["| " + " | ".join(columns) + " |",
             "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(_cell(v, digits) for v in row) + " |")
    return "\n".join(lines)
