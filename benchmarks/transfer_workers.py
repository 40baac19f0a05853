"""Ground-truth throughput: cells per hour with 1 worker (torch threads = cores) and N workers.

    python3 benchmarks/transfer_workers.py                 # 1 and 2 workers, 4 cells each
    python3 benchmarks/transfer_workers.py --cells 6 --workers 1,2

Each configuration runs the same cells in a fresh scratch folder: no-transfer baseline cells of
a real target (--target, 500 training examples x 3 epochs at 1e-4, evaluated on up to 1,000
held-out examples: the reduced/medium grids' settings) with distinct seeds, so no source model
is needed and every configuration does the same work. Wall time from the first cell to the last
gives cells per hour. Results are appended to benchmarks/results/transfer_workers.jsonl with the
CPU model; run it on a quiet machine (other load changes the figures a lot).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from stepstone._env import cpu_model  # noqa: E402
from stepstone.bench import Grid, ResultsFile, run_transfer  # noqa: E402
from stepstone.bench.grids import MEDIUM  # noqa: E402


def measure(workers: int, args: argparse.Namespace) -> dict:
    grid = Grid.from_dict({**MEDIUM.to_dict(), "name": f"throughput-{workers}",
                           "targets": (args.target,), "sources": (), "reuses": (),
                           "seeds": tuple(range(1000, 1000 + args.cells))})
    folder = Path(args.work) / f"workers-{workers}"
    shutil.rmtree(folder, ignore_errors=True)
    started = time.perf_counter()
    run_transfer(grid, results_dir=folder / "results", models_dir=folder / "models",
                 workers=workers, tuned_methods=(), show_progress=False)
    seconds = time.perf_counter() - started
    cells = ResultsFile(folder / "results").cells()
    shutil.rmtree(folder, ignore_errors=True)
    row = {"workers": workers, "threads_per_worker": "torch default" if workers == 1 else 1,
           "cells": len(cells), "seconds": round(seconds, 1),
           "cells_per_hour": round(3600 * len(cells) / seconds, 1),
           "mean_cell_seconds": round(sum(c.seconds for c in cells) / len(cells), 1)}
    print(f"  {workers} worker(s): {len(cells)} cells in {seconds:.0f} s = "
          f"{row['cells_per_hour']} cells/h", flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", default="tweeteval_irony")
    parser.add_argument("--cells", type=int, default=4)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--work", default=str(REPO / "benchmarks" / "work" / "throughput"))
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results"
                                              / "transfer_workers.jsonl"))
    args = parser.parse_args()
    rows = [measure(int(w), args) for w in args.workers.split(",")]
    record = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
              "cpu_model": cpu_model(), "cpus": os.cpu_count(), "target": args.target,
              "load_average_1min": os.getloadavg()[0], "rows": rows}
    with open(args.out, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")
    print("\n| workers | cells | wall s | cells/hour | mean s per cell |")
    print("|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['workers']} | {r['cells']} | {r['seconds']} | {r['cells_per_hour']} | "
              f"{r['mean_cell_seconds']} |")
    print(f"\n{record['cpu_model']}, {record['cpus']} CPUs; wrote {args.out}")


if __name__ == "__main__":
    main()
