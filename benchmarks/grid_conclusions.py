"""What a reported grid lets us conclude, by rules written down before its numbers were seen.

    python3 benchmarks/grid_conclusions.py --grid large

Reads the files `stepstone bench report` and `stepstone bench calibrate` wrote (the grid's
results folder, and the hub's selector.json and calibration.json for the advice figures) and
prints, with the numbers behind each, the answers the README's benchmark section gives
(and writes them to conclusions.md in the results folder):

1. Does following ESM-LogME's first pick beat skipping intermediate training? Yes only if its
   gain@1's 90 % interval lies above zero.
2. Is any method better than ESM-LogME? Only where the paired difference's 90 % interval
   excludes zero *and* the Benjamini-Hochberg adjusted p (over methods, per metric) is below
   0.05; differences that clear one bar but not the other are listed as suggestive.
3. How close is the best method to the noise ceiling (gain@1 of the measured best source,
   one seed)?
4. Does the learned selector become the default method? Only if its paired gain@1 against
   ESM-LogME has a 90 % interval above zero (issue "learned selector", written before the
   large grid ran).
5. Does the advice have skill? The display rule's bar (rank/evidence.meets_advice_bar).

Reads files only; no scoring. The rules are functions below, tested in
tests/bench/test_grid_conclusions.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from stepstone.bench.evaluate import CEILING, NO_TRANSFER, RANDOM  # noqa: E402
from stepstone.bench.evaluate import REFERENCE_METHOD as REFERENCE  # noqa: E402
from stepstone.bench.report_stats import interval_text  # noqa: E402
from stepstone.bench.uncertainty import higher_is_better  # noqa: E402

NOT_RANKINGS = (RANDOM, NO_TRANSFER, CEILING)
ALPHA = 0.05


def interval(mean: float, low: float, high: float) -> str:
    return interval_text(mean, low, high, 2, signed=True)


def first_pick_helps(intervals: pd.DataFrame, method: str = REFERENCE) -> tuple[bool, str]:
    """Rule 1: the method's gain@1 interval lies above zero."""
    row = intervals.set_index("method").loc[method]
    helps = bool(row["gain@1 low"] > 0)
    verdict = "yes" if helps else ("no, it loses" if row["gain@1 high"] < 0 else
                                   "not shown (the interval contains zero)")
    return helps, (f"following {method}'s first pick: gain@1 "
                   f"{interval(row['gain@1'], row['gain@1 low'], row['gain@1 high'])} points "
                   f"over {int(row['targets'])} targets: {verdict}")


def better_than_reference(paired: pd.DataFrame, *, alpha: float = ALPHA
                          ) -> tuple[list[str], list[str]]:
    """Rule 2: (shown, suggestive) lines; paired rows are reference minus method, so a
    method better than the reference has a negative gain@1 difference and a positive regret@1
    difference."""
    shown, suggestive = [], []
    for _, row in paired.iterrows():
        if row["method"] in NOT_RANKINGS:
            continue
        better_sign = -1 if higher_is_better(row["metric"]) else 1
        excludes_zero = row["low"] > 0 or row["high"] < 0
        method_better = better_sign * row["mean_diff"] > 0
        significant = row["p_adjusted"] < alpha
        if not method_better or not (excludes_zero or significant):
            continue
        line = (f"{row['method']} on {row['metric']}: {REFERENCE} minus it "
                f"{interval(row['mean_diff'], row['low'], row['high'])}, "
                f"p {row['p_permutation']:.3f} (BH {row['p_adjusted']:.2f}), "
                f"{int(row['other_better'])} targets better, "
                f"{int(row['reference_better'])} worse, {int(row['ties'])} tied")
        (shown if excludes_zero and significant else suggestive).append(line)
    return shown, suggestive


def ceiling_distance(intervals: pd.DataFrame) -> str:
    """Rule 3: the best ranking method's gain@1 and the noise ceiling's."""
    table = intervals.set_index("method")
    methods = table.drop(index=[m for m in NOT_RANKINGS if m in table.index])
    best = methods["gain@1"].idxmax()
    ceiling = table.loc[CEILING]

    def gain(row: pd.Series) -> str:
        return interval(row["gain@1"], row["gain@1 low"], row["gain@1 high"])

    return (f"best gain@1: {best} {gain(methods.loc[best])}; {REFERENCE} "
            f"{gain(table.loc[REFERENCE])}; noise ceiling {gain(ceiling)}"
            f" (the best a ranking could gain, one seed)")


def learned_becomes_default(paired: pd.DataFrame) -> tuple[bool, str]:
    """Rule 4: learned's paired gain@1 against ESM-LogME has a 90 % interval above zero, i.e.
    ESM-LogME minus learned lies below zero."""
    rows = paired[(paired["method"] == "learned") & (paired["metric"] == "gain@1")]
    if rows.empty:
        return False, "learned: no paired gain@1 row (was it evaluated?)"
    row = rows.iloc[0]
    learned_minus = (-row["mean_diff"], -row["high"], -row["low"])
    default = bool(learned_minus[1] > 0)
    return default, (f"learned minus {REFERENCE}, gain@1: {interval(*learned_minus)} points, "
                     f"p {row['p_permutation']:.3f}: "
                     + ("becomes the default" if default else f"{REFERENCE} stays the default"))


def advice_lines(hub: Path) -> list[str]:
    """Rule 5: each of the hub's advice models judged by the rule `stepstone rank` applies to
    it (rank/evidence.py), and the advice model also by issue 25's bar (meets_advice_bar)."""
    from stepstone.rank.advice import ADVICE_FILE, AdviceModel
    from stepstone.rank.evidence import advice_skill, meets_advice_bar, selector_skill
    from stepstone.rank.methods.learned import FILE_NAME, SelectorModel

    lines = []
    if (hub / ADVICE_FILE).is_file():
        advice = AdviceModel.load(hub / ADVICE_FILE)
        evaluation = advice.evaluation or {}
        lines.append(f"{ADVICE_FILE}: {advice_skill(evaluation, advice.grid.get('name'))[1]}; "
                     f"issue 25's bar (Brier <= 0.9x): {meets_advice_bar(evaluation)}")
    if (hub / FILE_NAME).is_file():
        selector = SelectorModel.load(hub / FILE_NAME)
        lines.append(f"{FILE_NAME}: " + selector_skill(selector.evaluation.get("advice"),
                                                        selector.grid.get("name"))[1])
    return lines


def conclusions(folder: Path, hub: Path, grid: str) -> str:
    """The answers, as Markdown, from the report's files in ``folder`` and the advice models
    in ``hub``."""
    intervals = pd.read_csv(folder / "evaluation_intervals.csv")
    paired = pd.read_csv(folder / "paired_comparisons.csv")
    lines = [f"# {grid}: what the grid lets us conclude", "",
             "1. " + first_pick_helps(intervals)[1]]
    shown, suggestive = better_than_reference(paired)
    for title, found in ((f"2. better than {REFERENCE} (interval excludes 0 and BH p < "
                          f"{ALPHA}):", shown), ("   suggestive (one bar only):", suggestive)):
        lines.append(title + ("" if found else " none"))
        lines += [f"   - {line}" for line in found]
    lines += ["3. " + ceiling_distance(intervals), "4. " + learned_becomes_default(paired)[1],
              "5. advice:"]
    lines += [f"   - {line}" for line in advice_lines(hub)]
    return "\n".join(lines) + "\n"


#: written beside the report, so that the README's conclusions trace to a committed file
CONCLUSIONS_FILE = "conclusions.md"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grid", default="large")
    parser.add_argument("--results", type=Path,
                        help="results folder (default: benchmarks/results/<grid>)")
    parser.add_argument("--hub", type=Path, help="hub folder (default: the bundled hub)")
    args = parser.parse_args(argv)
    from stepstone._env import default_hub_path

    folder = args.results or REPO / "benchmarks" / "results" / args.grid
    text = conclusions(folder, args.hub or default_hub_path(), args.grid)
    print(text, end="")
    (folder / CONCLUSIONS_FILE).write_text(text, encoding="utf-8")
    print(f"\nwrote {folder / CONCLUSIONS_FILE}")


if __name__ == "__main__":
    main()
