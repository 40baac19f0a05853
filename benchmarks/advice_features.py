"""Leave-one-target-out quality of the advice for several feature sets of one grid.

    python3 benchmarks/advice_features.py --grid reduced
    python3 benchmarks/advice_features.py --grid medium

Ranks every target of the grid against the whole hub (as `stepstone bench calibrate` does),
then, for each feature set, fits the advice model without each target in turn and scores it on
that target: MAE of the predicted gain, coverage of the 80 % intervals, Brier score of
P(beats no transfer) against the base rate, and the realised gain of following the
recommendation vs always taking the top-ranked source. Results go to
benchmarks/results/<grid>/advice_features.json and a table is printed. The default set of
`bench calibrate` is marked; comparing sets on the same targets that judge them is a search,
so the best row here is optimistic.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

SETS = [
    [],
    ["z_score"],
    ["z_score", "margin_z"],
    ["z_score", "margin_z", "regression", "log_target_size"],
    ["z_score", "textemb"],
    ["z_score", "margin_z", "textemb", "regression"],
    ["z_score", "margin_z", "textemb", "fit_cosine", "log_source_size", "regression",
     "log_target_size"],
]


def main() -> None:
    from stepstone._env import default_hub_path
    from stepstone.bench import load_grid
    from stepstone.bench.calibrate import advice_quality, calibration_cells, leave_one_target_out
    from stepstone.hub import Hub
    from stepstone.rank.advice import DEFAULT_FEATURES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", default="reduced")
    parser.add_argument("--results", help="results folder (default benchmarks/results/<grid>)")
    parser.add_argument("--hub", default=str(default_hub_path()))
    args = parser.parse_args()
    grid = load_grid(args.grid)
    folder = Path(args.results or REPO / "benchmarks" / "results" / grid.name)
    cells = calibration_cells(grid, folder, Hub(args.hub), show_progress=False)
    rows = []
    for features in SETS:
        q = advice_quality(leave_one_target_out(cells, features))
        rows.append({"features": features, "default": tuple(features) == DEFAULT_FEATURES,
                     **{k: q[k] for k in ("targets", "cells", "mae", "mae_constant", "coverage",
                                          "brier", "brier_base_rate", "mean_follow",
                                          "mean_top")}})
    print(f"| features | MAE | coverage | Brier (base rate {rows[0]['brier_base_rate']:.3f}) "
          "| follow | always top |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        name = ", ".join(r["features"]) or "(none: the training mean)"
        name += " **(default)**" if r["default"] else ""
        print(f"| {name} | {r['mae']:.2f} | {r['coverage']:.0%} | {r['brier']:.3f} | "
              f"{r['mean_follow']:+.2f} | {r['mean_top']:+.2f} |")
    out = folder / "advice_features.json"
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor())
    out.write_text(json.dumps({"grid": grid.name, "cpu": cpu, "rows": rows}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
