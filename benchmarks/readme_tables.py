"""The README's benchmark tables, printed from a grid's committed report files.

    python3 benchmarks/readme_tables.py --grid medium
    python3 benchmarks/readme_tables.py --grid large --gain-at-k esm-logme,learned,logme

The README quotes these tables of each reported grid: every method with its 90 % intervals
(``evaluation_intervals.csv``: ESM-LogME first, then by regret@1, then the references), the
paired comparisons with ESM-LogME that matter to a reader (``paired_comparisons.csv``: the rows
with p < 0.2 in regret@1 or gain@1, plus LogME on the tuned models, the learned selector and no
transfer), gain@k for a few methods (``gain_at_k.csv``) and, once `stepstone bench calibrate`
has run on the grid, the learned selector's policies (``selector_policies.csv``). They are
printed from the files those commands wrote, so the README's numbers are theirs, to the digit,
and a grid that grew is quoted again with one command. Reads files only; no scoring.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from stepstone.bench.report_stats import interval_text  # noqa: E402

REFERENCE = "esm-logme"
REFERENCES = ("random (expected)", "no transfer", "noise ceiling (one seed)")
#: paired rows always shown, whatever their p, with the label the README gives them
ALWAYS = {"logme": "**logme** (tuned models)", "learned": "**learned** (leave-one-target-out)",
          "no transfer": "no transfer"}
GAIN_AT_K = ("esm-logme", "logme", "esm-ridge", "esm-knn", "learned", "textemb",
             "random (expected)", "noise ceiling (one seed)")


def _interval(row: pd.Series, metric: str, digits: int = 2) -> str:
    """The report's "mean [low, high]" text of one metric of a row."""
    return interval_text(row[metric], row[f"{metric} low"], row[f"{metric} high"], digits)


def _bold_reference(method: str) -> str:
    return f"**{method}**" if method == REFERENCE else method


def summary_table(folder: Path) -> str:
    """Every method: regret@1, regret@3, gain@1, NDCG, Spearman with intervals."""
    table = pd.read_csv(folder / "evaluation_intervals.csv")
    body = table[~table["method"].isin((REFERENCE, *REFERENCES))].sort_values("regret@1",
                                                                             kind="stable")
    order = [table[table["method"] == REFERENCE], body,
             *[table[table["method"] == m] for m in REFERENCES]]
    lines = ["| method | targets | regret@1 | regret@3 | gain@1 | ndcg | spearman |",
             "|---|---:|---|---|---|---|---|"]
    for _, row in pd.concat(order).iterrows():
        lines.append(f"| {_bold_reference(row['method'])} | {int(row['targets'])} | "
                     f"{_interval(row, 'regret@1')} | {_interval(row, 'regret@3')} | "
                     f"{_interval(row, 'gain@1')} | {_interval(row, 'ndcg', 1)} | "
                     f"{_interval(row, 'spearman')} |")
    return "\n".join(lines)


def paired_table(folder: Path, *, threshold: float = 0.2) -> str:
    """ESM-LogME minus each method in regret@1 and gain@1, with p (BH) and the target record:
    the rows with p < ``threshold`` in either metric (by gain@1 p), then :data:`ALWAYS`."""
    paired = pd.read_csv(folder / "paired_comparisons.csv").set_index(["method", "metric"])
    methods = sorted({m for m, _ in paired.index})
    both = [m for m in methods if (m, "regret@1") in paired.index and (m, "gain@1") in
            paired.index]
    notable = sorted((m for m in both if m not in ALWAYS and min(
        paired.loc[(m, "regret@1"), "p_permutation"],
        paired.loc[(m, "gain@1"), "p_permutation"]) < threshold),
        key=lambda m: paired.loc[(m, "gain@1"), "p_permutation"])
    header = ("| method | targets | regret@1 difference | p (BH) | gain@1 difference | p (BH) | "
              "ESM-LogME better / worse / tie (gain@1) |")
    lines = [header, "|---|---:|---|---|---|---|---|"]
    for method in notable + [m for m in ALWAYS if m in both]:
        regret, gain = paired.loc[(method, "regret@1")], paired.loc[(method, "gain@1")]
        cells = []
        for row in (regret, gain):
            difference = interval_text(row["mean_diff"], row["low"], row["high"], 2,
                                       signed=True)
            cells += [difference, f"{row['p_permutation']:.3f} ({row['p_adjusted']:.2f})"]
        lines.append(f"| {ALWAYS.get(method, method)} | {int(gain['targets'])} | "
                     + " | ".join(cells) + f" | {int(gain['reference_better'])} / "
                     f"{int(gain['other_better'])} / {int(gain['ties'])} |")
    return "\n".join(lines)


def gain_at_k_table(folder: Path, methods: tuple[str, ...] = GAIN_AT_K) -> str:
    """gain@1..5 with intervals for ``methods`` (those the grid has, in that order)."""
    table = pd.read_csv(folder / "gain_at_k.csv").set_index("method")
    ks = sorted(int(c.split("@")[1]) for c in table.columns
                if c.startswith("gain@") and not c.endswith(("low", "high")))
    lines = ["| method | targets | " + " | ".join(f"gain@{k}" for k in ks) + " |",
             "|---|---:|" + "---|" * len(ks)]
    for method in (m for m in methods if m in table.index):
        row = table.loc[method]
        lines.append(f"| {_bold_reference(method)} | {int(row['targets'])} | "
                     + " | ".join(_interval(row, f"gain@{k}") for k in ks) + " |")
    return "\n".join(lines)


def policy_table(folder: Path) -> str | None:
    """The learned selector's policies and their paired differences (``selector_policies.csv``
    from `stepstone bench calibrate`), or None when the grid has none."""
    from stepstone.bench.selector import POLICIES_FILE, policy_markdown

    path = folder / POLICIES_FILE
    return policy_markdown(pd.read_csv(path).to_dict("records")) if path.is_file() else None


def tables(folder: Path, methods: tuple[str, ...] = GAIN_AT_K) -> list[tuple[str, str]]:
    """(title, Markdown) of every table the README quotes from ``folder``."""
    out = [("every method, 90 % intervals", summary_table(folder)),
           ("paired with ESM-LogME", paired_table(folder)),
           ("gain@k", gain_at_k_table(folder, methods))]
    policies = policy_table(folder)
    return out + ([("learned selector's policies", policies)] if policies else [])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grid", default="medium", help="a grid whose report is committed")
    parser.add_argument("--results", type=Path,
                        help="results folder (default: benchmarks/results/<grid>)")
    parser.add_argument("--gain-at-k", default=",".join(GAIN_AT_K),
                        help="comma-separated methods of the gain@k table")
    args = parser.parse_args(argv)
    folder = args.results or REPO / "benchmarks" / "results" / args.grid
    methods = tuple(m.strip() for m in args.gain_at_k.split(",") if m.strip())
    for title, text in tables(folder, methods):
        print(f"<!-- {args.grid}: {title} -->\n{text}\n")


if __name__ == "__main__":
    main()
