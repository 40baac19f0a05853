"""A ranking as a picture: horizontal bars of the top k sources against "no intermediate step".

Two modes, chosen from what the ranking holds:

- **expected gain** (every shown source has ``expected_gain``; the advice layer adds it): bars
  of the expected gain in accuracy points over fine-tuning directly, with the 80% interval
  (``gain_low``/``gain_high``) as error bars, and "no intermediate step" as the line at 0;
- **score** (otherwise): bars of the method's score, drawn from a common base so that scores
  that differ in the third decimal still look different, with the reference score (the base
  model scored by the same method, ``Ranking.reference``) as a line when there is one, and
  for the re-scored leading sources (``Ranking.stability``) the 90 % interval of the score over
  resamples of the target, relative to the other leading sources, as error bars (overlapping
  bars: sources the target's sample cannot tell apart).

The fields of the advice layer are read with ``getattr`` so that rankings without them (older
JSON files, other methods) still plot.
"""

from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from ..ranking import Ranking

GAIN_LABEL = "expected gain over fine-tuning directly (points)"
REFERENCE_LABEL = "(no intermediate step)"
_BETTER, _WORSE, _NEUTRAL = "#3a7dc9", "#c96a3a", "#3a7dc9"


def reference_score(ranking: Ranking) -> float | None:
    """The score of "no intermediate step" (``Ranking.reference["score"]``), if known."""
    reference = getattr(ranking, "reference", None)
    if not isinstance(reference, dict):
        return None
    value = reference.get("score")
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def has_gains(sources: list[Any]) -> bool:
    """Whether every source carries an expected gain (the advice layer ran)."""
    return bool(sources) and all(_finite(getattr(s, "expected_gain", None)) for s in sources)


def caption(ranking: Ranking, shown: int) -> str:
    """What the picture leaves out: sources beyond the top k and ESMs left out of the ranking."""
    left_out = len(ranking.skipped) + len(ranking.excluded)
    parts = [f"top {shown} of {len(ranking.sources)} ranked sources"]
    if left_out:
        reasons = []
        if ranking.skipped:
            reasons.append(f"{len(ranking.skipped)} unusable")
        if ranking.excluded:
            reasons.append(f"{len(ranking.excluded)} the target's own task")
        parts.append(f"{left_out} ESM{'s' if left_out != 1 else ''} left out "
                     f"({', '.join(reasons)})")
    return "; ".join(parts)


def plot_ranking(ranking: Ranking, *, k: int = 20, ax: Any = None) -> Any:
    """Draw the top ``k`` sources of ``ranking`` on ``ax`` (a new figure when None).

    Returns the matplotlib Axes. Rank 1 is at the top; every bar is labelled with its value.
    """
    sources = list(ranking.sources[:k])
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(8.0, 1.6 + 0.32 * max(len(sources), 1)),
                             layout="constrained")
    if not sources:
        ax.text(0.5, 0.5, "no source could be ranked", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_axis_off()
        return ax
    labels = [f"{s.rank}. {s.task_name}" for s in sources]
    positions = list(range(len(sources)))
    if has_gains(sources):
        _gain_bars(ax, sources, positions)
    else:
        _score_bars(ax, ranking, sources, positions)
    ax.set_yticks(positions, labels)
    ax.set_ylim(len(sources) - 0.5, -0.5)  # rank 1 on top
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    name = ranking.target.get("name", "target")
    size = ranking.target.get("num_examples", "?")
    ax.set_title(f"{ranking.method} ranking for {name} ({size} examples)\n"
                 f"{caption(ranking, len(sources))}", loc="left", fontsize=10)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower right", fontsize=8, framealpha=0.9)
    return ax


def _gain_bars(ax: Any, sources: list[Any], positions: list[int]) -> None:
    gains = [float(s.expected_gain) for s in sources]
    low = [getattr(s, "gain_low", None) for s in sources]
    high = [getattr(s, "gain_high", None) for s in sources]
    colours = [_BETTER if g > 0 else _WORSE for g in gains]
    ax.barh(positions, gains, color=colours, height=0.65)
    if all(_finite(v) for v in low + high):
        err = [[g - lo for g, lo in zip(gains, low)], [hi - g for g, hi in zip(gains, high)]]
        ax.errorbar(gains, positions, xerr=[[max(e, 0) for e in err[0]],
                                            [max(e, 0) for e in err[1]]],
                    fmt="none", ecolor="#333333", elinewidth=1, capsize=3,
                    label="80% interval")
    ax.axvline(0.0, color="#222222", linewidth=1.2, label=f"{REFERENCE_LABEL} = 0")
    for pos, gain in zip(positions, gains):
        ax.annotate(f"{gain:+.1f}", xy=(gain, pos), xytext=(4 if gain >= 0 else -4, 0),
                    textcoords="offset points", va="center",
                    ha="left" if gain >= 0 else "right", fontsize=8)
    ax.set_xlabel(GAIN_LABEL)


def _score_bars(ax: Any, ranking: Ranking, sources: list[Any], positions: list[int]) -> None:
    scores = [float(s.score) for s in sources]
    reference = reference_score(ranking)
    values = scores + ([reference] if reference is not None else []) \
        + _interval_ends(ranking, sources)
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    spread = (hi - lo) or max(abs(hi), 1.0) * 0.01
    base = lo - 0.15 * spread  # a common base, so small differences stay visible
    if reference is None:
        colours = [_NEUTRAL] * len(scores)
    else:
        colours = [_BETTER if s > reference else _WORSE for s in scores]
    ax.barh(positions, [s - base for s in scores], left=base, color=colours, height=0.65)
    _stability_bars(ax, ranking, sources, positions)
    digits = _digits(spread)
    stability = getattr(ranking, "stability", None)
    highs = stability.by_id() if stability is not None else {}
    for pos, score, source in zip(positions, scores, sources):
        row = highs.get(source.esm_id)
        end = max(score, row.score_high) if row and _finite(row.score_high) else score
        ax.annotate(f"{score:.{digits}f}", xy=(end, pos), xytext=(4, 0),
                    textcoords="offset points", va="center", ha="left", fontsize=8)
    if reference is not None:
        ax.axvline(reference, color="#222222", linewidth=1.2,
                   label=f"{REFERENCE_LABEL}: {reference:.{digits}f}")
    ax.set_xlim(base, hi + 0.2 * spread)
    ax.set_xlabel(f"{ranking.method} score (higher is better)")


def _interval_ends(ranking: Ranking, sources: list[Any]) -> list[float]:
    """The stability intervals' ends of the shown sources (so that the axis holds them)."""
    stability = getattr(ranking, "stability", None)
    rows = stability.by_id() if stability is not None else {}
    ends = [v for s in sources if s.esm_id in rows
            for v in (rows[s.esm_id].score_low, rows[s.esm_id].score_high)]
    return [float(v) for v in ends if _finite(v)]


def _stability_bars(ax: Any, ranking: Ranking, sources: list[Any], positions: list[int]) -> None:
    """The 5-95 % interval of each re-scored source's score over resamples of the target."""
    stability = getattr(ranking, "stability", None)
    rows = stability.by_id() if stability is not None else {}
    shown = [(pos, float(s.score), rows[s.esm_id]) for pos, s in zip(positions, sources)
             if s.esm_id in rows and _finite(rows[s.esm_id].score_low)
             and _finite(rows[s.esm_id].score_high)]
    if not shown:
        return
    ax.errorbar([x for _, x, _ in shown], [p for p, _, _ in shown],
                xerr=[[max(x - r.score_low, 0) for _, x, r in shown],
                      [max(r.score_high - x, 0) for _, x, r in shown]],
                fmt="none", ecolor="#333333", elinewidth=1, capsize=3,
                label=f"90% over {stability.resamples} resamples of the target "
                      "(relative to the leading sources)")


def _digits(spread: float) -> int:
    """Decimals that show differences of about a tenth of ``spread``."""
    return min(6, max(2, 1 - math.floor(math.log10(spread)) if spread > 0 else 3))


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def _figure(ranking: Ranking, k: int) -> Any:
    """A figure outside pyplot (no global state, nothing shown in a notebook)."""
    from matplotlib.figure import Figure

    shown = min(k, len(ranking.sources))
    figure = Figure(figsize=(8.0, 1.6 + 0.32 * max(shown, 1)), layout="constrained")
    plot_ranking(ranking, k=k, ax=figure.subplots())
    return figure


def save_plot(ranking: Ranking, path: str, *, k: int = 20) -> None:
    """Write the plot to ``path``; the format follows the suffix (.png, .svg or .pdf)."""
    _figure(ranking, k).savefig(path, dpi=150)


def plot_png(ranking: Ranking, *, k: int = 20) -> bytes:
    """The plot as PNG bytes (for inlining in HTML)."""
    buffer = io.BytesIO()
    _figure(ranking, k).savefig(buffer, format="png", dpi=110)
    return buffer.getvalue()
