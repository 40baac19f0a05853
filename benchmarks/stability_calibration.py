"""Does the ranking's stability say how sure it is? Checked against independent samples.

    python3 benchmarks/stability_calibration.py                 # 6 targets x 10 samples
    python3 benchmarks/stability_calibration.py --exact         # also exact re-scoring
    python3 benchmarks/stability_calibration.py --targets liar --samples 4   # a quick look
    python3 benchmarks/stability_calibration.py --method esm-knn --targets liar sst5

``Ranking.stability`` (ESM-LogME: first-order bootstrap, :mod:`stepstone.rank.stability`) is
computed from one sample of the target. Its claims are about other samples of the same size, so
they are checked here on them: each target's train split is cut into ``--samples`` disjoint
samples of ``--n`` examples, the bundled hub is ranked on each with stability on, and every
claim made on one sample is compared with what the *other* samples show:

- **wrong separations**: among the sources the stability calls *not* tied with the first (the
  first beat them in >= 95 % of resamples), the share whose mean score over the other samples is
  at least the first's. A tie rule at the 5 % level should keep this near or below 5 %.
- **P(first ahead)**: the bootstrap share of resamples in which the first beats a source, next to
  the share of the other samples in which it does. Even an exact bootstrap is above the latter on
  average (the first was picked as the maximum of this sample: regression to the mean), so the
  table reads as a calibration curve, not as an equality.
- **spread ratio**: the width of a source's 90 % score interval (relative to the leading
  sources' mean, as the plot shows it) over the 5-95 % range of the same relative score across
  the other samples; 1 means the bootstrap spread matches the sampling spread, < 1 too narrow.

Alternative tie rules are scored on the same claims: stricter levels (:data:`TIE_LEVELS`) and a
winner's-curse correction (:func:`winner_corrected_ahead`); none is the library's rule (README,
"Is it right?").

With ``--exact`` the same is measured for exact re-scoring of every resample, on half-samples
(the path methods without a fast path take).

Results are appended to benchmarks/results/stability_calibration.json with the machine, and a
table is printed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO / "benchmarks")]

from machine_info import describe  # noqa: E402
from stepstone.data import load_task  # noqa: E402
from stepstone.rank import rank_sources  # noqa: E402
from stepstone.rank.stability import FAST_METHODS  # noqa: E402

DATASETS = REPO.parent / "shared" / "datasets"
#: targets with at least 5,000 training rows (10 disjoint samples of 500), of every kind:
#: classification with 2, 5 and 6 classes, regression, a sentence-pair regression
TARGETS = ("trec_coarse", "liar", "sst5", "covid_fake_news", "emobank_valence", "stsb")
RESULTS = REPO / "benchmarks" / "results" / "stability_calibration.json"
BINS = (0.0, 0.5, 0.8, 0.95, 1.0001)
#: the tie rule's level (0.95) and stricter ones: 0.99, and 1 - 0.05/7 (Bonferroni over the 7
#: comparisons with the first of 8 leading sources, a guard against the winner's curse)
TIE_LEVELS = (0.95, 0.99, 1 - 0.05 / 7)


def sample_rankings(target: str, *, method: str, samples: int, n: int, exact: bool) -> list:
    """One ranking (stability on) per disjoint sample of the target's train split."""
    task = load_task(DATASETS / target, split="train")
    order = np.random.default_rng(0).permutation(len(task))
    if len(order) < samples * n:
        raise SystemExit(f"{target}: {len(order)} rows, fewer than {samples} x {n}")
    mode = "exact" if exact else "on"  # on: ESM-LogME's first-order bootstrap
    return [rank_sources(task.subset(order[m * n:(m + 1) * n]), method=method, stability=mode,
                         advice=False, show_progress=False) for m in range(samples)]


def winner_corrected_ahead(scores: np.ndarray, full: np.ndarray) -> np.ndarray:
    """P(first ahead) with the winner's curse taken out, (R, K), (K,) -> (K,): in each resample
    the resample's own winner leads every source by more than it did in the sample; the mean
    excess (the bootstrap's estimate of how much picking the maximum inflates a lead) is
    subtracted from the first's lead before counting."""
    s = np.where(np.isfinite(scores), scores, -np.inf)
    winner = s.argmax(axis=1)
    rows = np.arange(len(s))
    excess = (s[rows, winner][:, None] - s) - (full[winner][:, None] - full[None, :])
    bias = np.nanmean(np.where(np.isfinite(excess), excess, np.nan), axis=0)
    return ((s[:, :1] - s) - bias > 0).mean(axis=0)


def claims(rankings: list) -> pd.DataFrame:
    """Per (sample, leading source other than the first): the bootstrap's claims and what the
    other samples show."""
    scores = pd.DataFrame([{s.esm_id: s.score for s in r.sources} for r in rankings])
    rows = []
    for m, ranking in enumerate(rankings):
        lead = ranking.stability.sources
        others = scores.drop(index=m)
        first = lead[0].esm_id
        corrected = winner_corrected_ahead(
            ranking.stability.resampled,
            np.array([s.score for s in ranking.sources[:len(lead)]]))
        relative = others[[s.esm_id for s in lead]].sub(
            others[[s.esm_id for s in lead]].mean(axis=1), axis=0)
        for k, source in enumerate(lead[1:], start=1):
            spread = np.subtract(*np.quantile(relative[source.esm_id], [0.95, 0.05]))
            rows.append({
                "sample": m, "source": source.task_name, "p_boot": source.first_ahead,
                "p_corrected": float(corrected[k]),
                "tied": source.tied_with_first,
                "p_other": float((others[first] > others[source.esm_id]).mean()),
                "first_ahead_on_mean": bool(others[first].mean() > others[source.esm_id].mean()),
                "spread_ratio": (source.score_high - source.score_low) / spread
                if spread > 0 else np.nan})
    return pd.DataFrame(rows)


def summary(table: pd.DataFrame) -> dict:
    """The three measures of the module docstring over a table of :func:`claims`."""
    separated = table[~table["tied"]]
    bins = pd.cut(table["p_boot"], BINS, right=False)
    curve = table.groupby(bins, observed=True)[["p_boot", "p_other"]].agg(["mean", "size"])
    return {"claims": len(table), "separated": len(separated),
            "wrong_separations": int((~separated["first_ahead_on_mean"]).sum()),
            "wrong_share": float((~separated["first_ahead_on_mean"]).mean())
            if len(separated) else None,
            "spread_ratio_median": float(table["spread_ratio"].median()),
            "spread_ratio_iqr": [float(q) for q in table["spread_ratio"].quantile([.25, .75])],
            "calibration": [{"bin": str(b), "claims": int(curve.loc[b, ("p_boot", "size")]),
                             "p_boot": float(curve.loc[b, ("p_boot", "mean")]),
                             "p_other": float(curve.loc[b, ("p_other", "mean")])}
                            for b in curve.index],
            "by_tie_level": {f"{level:.4f}": _at_level(table, level) for level in TIE_LEVELS},
            "winner_corrected": {f"{level:.4f}": _at_level(table, level, "p_corrected")
                                 for level in TIE_LEVELS}}


def _at_level(table: pd.DataFrame, level: float, column: str = "p_boot") -> dict:
    """Separations and wrong ones had the tie rule used ``level`` (and ``column``)."""
    separated = table[table[column] >= level]
    wrong = ~separated["first_ahead_on_mean"]
    return {"separated": len(separated), "wrong": int(wrong.sum()),
            "right": int((~wrong).sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--targets", nargs="+", default=list(TARGETS))
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--exact", action="store_true", help="also exact re-scoring")
    parser.add_argument("--method", default="esm-logme",
                        help="a method without a fast path is always re-scored exactly")
    args = parser.parse_args()
    if args.method not in FAST_METHODS:
        variants = ("exact",)  # the only path it has
    else:
        variants = ("linearised", "exact") if args.exact else ("linearised",)
    tables = {v: [] for v in variants}
    for target in args.targets:
        for variant in variants:
            rankings = sample_rankings(target, method=args.method, samples=args.samples,
                                       n=args.n,
                                       exact=variant == "exact")
            tables[variant].append(claims(rankings).assign(target=target))
            print(f"{target} ({variant}): {summary(tables[variant][-1])}", flush=True)
    record = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
              "machine": describe(), "method": args.method, "targets": args.targets,
              "exact_resampling": "half-samples",  # stability.half_sample_rows
              "samples": args.samples, "n": args.n, "command": " ".join(["python3", *sys.argv]),
              "variants": {v: {"all": summary(pd.concat(t)),
                               "per_target": {tt: summary(part) for tt, part in
                                              pd.concat(t).groupby("target")}}
                           for v, t in tables.items()},
              "claims": {v: pd.concat(t).to_dict(orient="records") for v, t in tables.items()}}
    history = json.loads(RESULTS.read_text()) if RESULTS.is_file() else []
    RESULTS.write_text(json.dumps(history + [record], indent=2) + "\n")
    print(f"{record['machine']['cpu']}, {record['machine']['cores']} cores, load "
          f"{record['machine']['load_average'][0]:.1f}")
    for variant, result in record["variants"].items():
        s = result["all"]
        wrong = f"{s['wrong_share']:.1%}" if s["wrong_share"] is not None else "-"
        print(f"\n{variant}: {s['separated']} of {s['claims']} leading sources called separate "
              f"from the first; wrong on the other samples' mean: {s['wrong_separations']} "
              f"({wrong}); spread ratio median {s['spread_ratio_median']:.2f} "
              f"(IQR {s['spread_ratio_iqr'][0]:.2f}-{s['spread_ratio_iqr'][1]:.2f})")
        print("  P(first ahead): bootstrap vs other samples, by bin")
        for row in s["calibration"]:
            print(f"  {row['bin']:>14}  {row['claims']:>4}  {row['p_boot']:.2f}  "
                  f"{row['p_other']:.2f}")


if __name__ == "__main__":
    main()
