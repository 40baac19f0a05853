"""The report's statistics: intervals, paired comparisons, noise ceiling and ESM fidelity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .evaluate import CEILING, REFERENCE_METHOD, Evaluation
from .tables import markdown_table
from .uncertainty import BOOT_METRICS, GAIN_METRICS

LEVEL = 0.9


def interval_table(frame: pd.DataFrame, *, digits: int = 2,
                   metrics: tuple[str, ...] = BOOT_METRICS) -> pd.DataFrame:
    """``Evaluation.intervals()`` with each metric as one "mean [low, high]" text column."""
    out = frame[["method", "targets"]].copy()
    for metric in metrics:
        out[metric] = [interval_text(m, lo, hi, digits) for m, lo, hi in
                       zip(frame[metric], frame[f"{metric} low"], frame[f"{metric} high"])]
    return out


def interval_text(mean: float, low: float, high: float, digits: int, *,
                  signed: bool = False) -> str:
    """"mean [low, high]" with ``digits`` decimals; empty for a missing mean. ``signed``: every
    number carries its sign, minus as the typographic U+2212 (differences in prose and tables:
    "+0.68 [−0.35, +1.97]")."""
    if not np.isfinite(mean):
        return ""
    spec = f"{'+' if signed else ''}.{digits}f"

    def number(x: float) -> str:
        text = format(x, spec)
        return text.replace("-", "\u2212") if signed else text

    return f"{number(mean)} [{number(low)}, {number(high)}]"


def paired_table(frame: pd.DataFrame, *, digits: int = 2) -> pd.DataFrame:
    """``Evaluation.paired()`` as text: one row per (method, metric)."""
    if frame.empty:
        return frame
    out = pd.DataFrame({
        "method": frame["method"], "metric": frame["metric"], "targets": frame["targets"],
        "difference": [interval_text(m, lo, hi, digits) for m, lo, hi in
                       zip(frame["mean_diff"], frame["low"], frame["high"])],
        "p": [f"{p:.3f}" for p in frame["p_permutation"]],
        "p (BH)": [f"{p:.3f}" for p in frame["p_adjusted"]],
        "better / worse / tie": [f"{a} / {b} / {c}" for a, b, c in
                                 zip(frame["reference_better"], frame["other_better"],
                                     frame["ties"])],
    })
    return out


def statistics_sections(evaluation: Evaluation, folder: Path) -> tuple[list[str], list[str]]:
    """Markdown lines of the statistics sections, and the names of the plots written."""
    if evaluation.boot is None:
        return [], []
    intervals = evaluation.intervals(level=LEVEL)
    paired = evaluation.paired(level=LEVEL)
    fidelity = evaluation.fidelity()
    intervals.to_csv(folder / "evaluation_intervals.csv", index=False)
    paired.to_csv(folder / "paired_comparisons.csv", index=False)
    fidelity.to_csv(folder / "esm_fidelity.csv", index=False)
    targets = len(evaluation.boot.targets)
    lines = [
        "## How sure is this?", "",
        f"Means over targets with {LEVEL:.0%} bootstrap intervals that resample the targets "
        "and, within each target, the seeds behind every cell (so both the choice of targets "
        "and the fine-tuning noise move the interval). "
        f"`{CEILING}` ranks the sources by one seed's results and is judged by the mean of the "
        "other seeds: what knowing the ground truth up to one run's noise achieves. A method "
        "whose interval overlaps the ceiling's cannot be told apart from it with this grid.", "",
        markdown_table(interval_table(intervals)), "",
        f"### {REFERENCE_METHOD} against every other method", "",
        f"Difference {REFERENCE_METHOD} minus the other method (regret: negative = "
        f"{REFERENCE_METHOD} better; gain@1, NDCG and Spearman: positive = {REFERENCE_METHOD} "
        "better) "
        f"on the targets both scored, with its {LEVEL:.0%} paired bootstrap interval; `p` is "
        "a two-sided sign-flip permutation test over targets (exact), `p (BH)` the same after "
        "the Benjamini-Hochberg correction over the methods compared for that metric. With T "
        f"targets the smallest possible p is 2/2^T ({2 / 2 ** targets:.3g} here).", "",
        markdown_table(paired_table(paired)), "",
    ]
    lines += gain_at_k_section(evaluation, folder)
    if not fidelity.empty:
        lines += [
            "## ESM fidelity: ESM-LogME against LogME on the tuned models", "",
            "Per target, over the sources both scored: the Spearman correlation of the two "
            "scores, the share of LogME's top 5 that ESM-LogME also puts in its top 5, and "
            "whether both rank the same source first.", "",
            markdown_table(fidelity, digits=3), "",
            f"Mean Spearman {fidelity['spearman'].mean():.3f}, mean top-5 overlap "
            f"{fidelity['top-5 overlap'].mean():.2f}, same top-1 on "
            f"{int(fidelity['same top-1'].sum())} of {len(fidelity)} targets.", "",
        ]
    if evaluation.stored_methods:
        lines += [f"Methods on tuned models ({', '.join(evaluation.stored_methods)}) were "
                  "scored from `tuned_scores.csv`, stored when the grid ran.", ""]
    if evaluation.failed:
        lines += ["Methods left out where they could not score a target (no rows there):", ""]
        lines += [f"- {m}: {reason}" for m, reason in sorted(evaluation.failed.items())]
        lines += [""]
    plot = plot_intervals(intervals, folder / "intervals.png")
    return lines, [plot.name]


def gain_at_k_section(evaluation: Evaluation, folder: Path) -> list[str]:
    """Markdown of gain@1..5 per method (best gain first), written to ``gain_at_k.csv``."""
    table = evaluation.gain_at_k(level=LEVEL)
    table.to_csv(folder / "gain_at_k.csv", index=False)
    order = table.sort_values("gain@1", ascending=False, na_position="last")
    return [
        "### gain@k: how many picks to try", "",
        "gain@k: the best measured result among a method's first k picks minus fine-tuning "
        "the base model on the target directly, in points, with "
        f"{LEVEL:.0%} intervals (targets and seeds resampled). A user who fine-tunes through "
        "the first k sources and keeps the best (measured without noise) gains this much on "
        "average; the noise ceiling's row is the same for one seed's ranking.", "",
        markdown_table(interval_table(order, metrics=GAIN_METRICS)), "",
    ]


def plot_intervals(intervals: pd.DataFrame, path: Path) -> Path:
    """Forest plot: Regret@1 and NDCG per method with their intervals, best first."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 0.32 * len(intervals) + 1.6), sharey=True)
    order = intervals.sort_values("regret@1", ascending=False, na_position="first")
    y = np.arange(len(order))
    for ax, metric, label in ((axes[0], "regret@1", "Regret@1 (%), lower is better"),
                              (axes[1], "ndcg", "NDCG (%), higher is better")):
        mean = order[metric].to_numpy(float)
        err = np.vstack([mean - order[f"{metric} low"].to_numpy(float),
                         order[f"{metric} high"].to_numpy(float) - mean])
        colors = ["tab:red" if m == REFERENCE_METHOD else "tab:grey" if m == CEILING
                  else "tab:blue" for m in order["method"]]
        for yi, (m, e, color) in enumerate(zip(mean, np.nan_to_num(err).T, colors)):
            ax.errorbar([m], [yi], xerr=e[:, None], fmt="o", color=color, markersize=3.5,
                        capsize=2)
        ax.set_xlabel(label)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(y, order["method"], fontsize=8)
    fig.suptitle(f"Means over targets with {LEVEL:.0%} bootstrap intervals (targets and seeds "
                 "resampled)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
