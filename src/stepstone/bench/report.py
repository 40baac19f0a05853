"""The benchmark report: Markdown tables and PNG plots from the ground truth and an evaluation."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .._io import write_json
from .benefit import baseline_association, benefit_by_kind, who_benefits
from ..rank.methods.transfer_graph import is_transfer_graph
from .evaluate import LEARNED, NO_TRANSFER, RANDOM, Evaluation, GroundTruth
from .grids import Grid
from .metrics import regret_at_k
from .report_html import write_report_html
from .report_stats import statistics_sections
from .tables import markdown_table
from .tuned_scores import TunedScores

MAX_K = 10
REPORT_INPUTS = "report_inputs.json"


def write_report(grid: Grid, truth: GroundTruth, evaluation: Evaluation,
                 folder: str | os.PathLike, *, command: str = "") -> Path:
    """Write ``report.md``, ``gains.png``, ``regret_curves.png`` and ``esm_logme_vs_gain.png``
    (when ESM-LogME was evaluated) into ``folder``, ``report.html`` (the Markdown with the
    plots inlined), the tables as CSV and ``report_inputs.json`` (how many rows of
    ``transfer.csv`` and ``tuned_scores.csv`` the report was made from); returns the Markdown
    path."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    plots = [plot_gains(truth, folder / "gains.png"),
             plot_regret_curves(truth, evaluation, folder / "regret_curves.png")]
    if "esm-logme" in evaluation.predictions:
        plots.append(plot_score_vs_gain(truth, evaluation.predictions["esm-logme"],
                                        folder / "esm_logme_vs_gain.png"))
    extra, extra_plots = statistics_sections(evaluation, folder)
    text = _markdown(grid, truth, evaluation, [p.name for p in plots] + extra_plots, command,
                     extra, folder)
    path = folder / "report.md"
    path.write_text(text, encoding="utf-8")
    write_report_html(path)  # the same content with its plots inlined: one file to share
    evaluation.per_target.to_csv(folder / "evaluation_per_target.csv", index=False)
    evaluation.summary().to_csv(folder / "evaluation_summary.csv", index=False)
    truth.summary().to_csv(folder / "ground_truth_summary.csv", index=False)
    # the report's inputs are the first rows of files that a running grid keeps appending to:
    # how many, so that the report can be reproduced from those rows while the grid grows
    write_json(folder / REPORT_INPUTS, {"transfer_rows": len(truth.raw),
                                        "tuned_score_rows": len(TunedScores(folder).rows())})
    return path


def _markdown(grid: Grid, truth: GroundTruth, evaluation: Evaluation, plots: list[str],
              command: str, extra: list[str], folder: Path) -> str:
    summary = truth.summary()
    helped = summary["share_above_baseline"].dropna()
    lines = [f"# Benchmark report: grid `{grid.name}`", "", grid.description, ""]
    if command:
        lines += ["Produced by:", "", "```bash", command, "```", ""]
    lines += [
        f"Targets: {len(truth.targets)}; seeds per cell: {', '.join(map(str, grid.seeds))}; "
        f"{grid.target_examples} target training examples, up to {grid.eval_examples} "
        "evaluation examples. Scores are accuracy (classification) or the mean of Pearson and "
        "Spearman correlation (regression), averaged over seeds; gains are in points "
        "(x 100) over fine-tuning the base model on the target directly.", "",
        *exclusions_lines(grid),
        "## Does intermediate training help?", "",
        f"Share of (target, source) pairs above the no-transfer baseline: "
        f"**{helped.mean():.0%}** (mean over targets).", "",
        markdown_table(summary, digits=4), "",
        *benefit_section(truth, folder), "",
        "## How well each method selects sources", "",
        "Regret@k: how far the best of the top-k picks is below the best available result "
        "(the baseline included), in percent; gain@1: the result of the top pick minus the "
        "no-transfer baseline, in points (what following the first pick buys; unlike regret "
        "it does not weigh low-scoring targets more); NDCG with the paper's gain "
        "2^(100·score) − 1. "
        f"`{RANDOM}` is the exact expectation of a random order; `{NO_TRANSFER}` is the regret "
        "of skipping intermediate training.", "",
        *fitted_methods_lines(set(evaluation.per_target["method"])),
        markdown_table(evaluation.summary()), "",
        "### Per target", "",
        markdown_table(evaluation.per_target), "",
        *extra,
        "## Plots", "",
    ]
    lines += [f"![{name}]({name})" for name in plots]
    return "\n".join(lines) + "\n"


def fitted_methods_lines(methods: set[str]) -> list[str]:
    """How the methods that learn from a ground truth were kept from seeing the target they are
    judged on (a paragraph, or nothing when none of them was evaluated)."""
    notes = []
    if LEARNED in methods:
        notes.append(f"`{LEARNED}` is judged nested leave-one-target-out: each target is ranked "
                     "by a selector whose kind and fit never saw its cells.")
    if any(is_transfer_graph(m) for m in methods):
        notes.append("`transfer-graph` takes its measured transfers from the hub's "
                     "calibration.json (refit it with `stepstone bench calibrate` on this grid "
                     "before the report); a target is never its own pivot.")
    return [" ".join(notes), ""] if notes else []


def exclusions_lines(grid: Grid) -> list[str]:
    """One line naming, per target, the grid's sources it is never ranked against because they
    share its texts (RELATED_GROUPS in bench/grids.py); nothing when there are none."""
    left_out = {Path(t).name: sorted(Path(s).name for s in grid.sources
                                     if Path(s).name not in
                                     {Path(c).name for c in grid.candidates(t)})
                for t in grid.targets}
    named = [f"{t} (not {', '.join('itself' if x == t else x for x in s)})"
             for t, s in sorted(left_out.items()) if s]
    if not named:
        return []
    return ["A target is never ranked against itself or a source that shares its texts "
            f"(that would measure text reuse, not transfer): {'; '.join(named)}.", ""]


def benefit_section(truth: GroundTruth, folder: Path) -> list[str]:
    """Markdown of who benefits: per target (lowest baseline first) and by kind of target;
    the per-target table is also written to ``who_benefits.csv``."""
    truths = [truth.target_truth(t) for t in truth.ranked_targets]
    if not truths:
        return []
    types = {Path(t).name: kind for t, kind in truth.task_types.items()}
    table = who_benefits(truths, types)
    table.to_csv(folder / "who_benefits.csv", index=False)
    trend = baseline_association(table)
    return [
        "### Who benefits", "",
        "Per target, lowest baseline first: the baseline's score (points), the share of "
        "sources above it, the share above it by more than the seed noise (one-sided 95 %, "
        "Welch standard error over the seeds), and the best gain.", "",
        markdown_table(table, digits=2), "",
        markdown_table(benefit_by_kind(table), digits=2), "",
        f"Spearman correlation across {trend['targets']} targets between the baseline score "
        f"and the share of sources that help: {trend['spearman']:.2f} "
        f"[{trend['low']:.2f}, {trend['high']:.2f}] (90 % bootstrap over targets; negative: "
        "targets that leave more room are helped by more sources).",
    ]


def plot_gains(truth: GroundTruth, path: Path) -> Path:
    """Heatmap: targets x sources, mean gain over the baseline in points."""
    import matplotlib.pyplot as plt

    gains = truth.gains()
    gains = gains.rename(index=lambda n: Path(n).name, columns=lambda n: Path(n).name)
    fig, ax = plt.subplots(figsize=(max(6, 0.5 * gains.shape[1] + 2),
                                    max(3, 0.5 * gains.shape[0] + 1.5)))
    limit = np.nanmax(np.abs(gains.values)) or 1.0
    image = ax.imshow(gains.values, cmap="RdBu", vmin=-limit, vmax=limit, aspect="auto")
    ax.set_xticks(range(gains.shape[1]), gains.columns, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(gains.shape[0]), gains.index, fontsize=9)
    for (i, j), value in np.ndenumerate(gains.values):
        if np.isfinite(value):
            ax.text(j, i, f"{value:.1f}", ha="center", va="center", fontsize=6)
    fig.colorbar(image, ax=ax, label="gain over no transfer (points)")
    ax.set_title("Transfer gain: target (rows) after source (columns)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_regret_curves(truth: GroundTruth, evaluation: Evaluation, path: Path) -> Path:
    """Mean Regret@k over targets for k = 1..MAX_K, one line per method (and random order)."""
    import matplotlib.pyplot as plt

    curves: dict[str, list[float]] = {}
    names = [RANDOM] + list(evaluation.predictions)
    for name in names:
        per_k = []
        for k in range(1, MAX_K + 1):
            values = []
            for target in truth.ranked_targets:
                true = truth.sources(target)
                if name == RANDOM:
                    predicted = np.zeros(len(true))
                elif target in evaluation.predictions.get(name, {}):
                    scores = evaluation.predictions[name][target]
                    predicted = np.array([scores.get(s, -np.inf) for s in true.index])
                    predicted[~np.isfinite(predicted)] = -1e300
                else:
                    continue
                values.append(regret_at_k(predicted, true.values, k,
                                          baseline=truth.baseline(target)))
            per_k.append(float(np.mean(values)) if values else np.nan)
        curves[name] = per_k
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, values in curves.items():
        ax.plot(range(1, MAX_K + 1), values, marker="o", label=name,
                linestyle="--" if name == RANDOM else "-")
    ax.set_xlabel("k (sources tried)")
    ax.set_ylabel("mean Regret@k (%)")
    ax.set_title("Regret@k averaged over targets")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_score_vs_gain(truth: GroundTruth, predictions: dict[str, dict[str, float]],
                       path: Path) -> Path:
    """One panel per target: ESM-LogME score (x) vs true gain over the baseline (y)."""
    import matplotlib.pyplot as plt

    targets = [t for t in truth.ranked_targets if t in predictions]
    cols = min(3, len(targets)) or 1
    rows = -(-len(targets) // cols) or 1
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.6 * rows), squeeze=False)
    for ax, target in zip(axes.flat, targets):
        true = truth.sources(target)
        base = truth.baseline(target) or 0.0
        scores = predictions[target]
        names = [s for s in true.index if s in scores]
        x = np.array([scores[s] for s in names])
        y = 100 * (true[names].values - base)
        ax.scatter(x, y, s=18)
        for xi, yi, name in zip(x, y, names):
            ax.annotate(Path(name).name, (xi, yi), fontsize=6, alpha=0.7)
        ax.axhline(0, color="grey", linewidth=0.8)
        ax.set_title(Path(target).name, fontsize=10)
        ax.set_xlabel("ESM-LogME", fontsize=8)
        ax.set_ylabel("gain (points)", fontsize=8)
    for ax in list(axes.flat)[len(targets):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
