"""What `--method learned` costs next to its input scores (issue 25: "about the time of its
slowest input score").

    python3 benchmarks/learned_cost.py                       # tweeteval_irony + empathy_score
    python3 benchmarks/learned_cost.py --targets sst5 --n 500

Each target (a pool task, 1,000 examples by default, sample seed 1) is embedded once (the first
ranking fills a fresh embedding cache); then each input method of the selector and `learned`
itself rank the bundled hub with the embedding cached, ``--repeats`` times, stability and advice
off, and the median scoring time (``Ranking.timings["score"]``) is kept. The selector computes
its inputs one after another, so its time is about their sum; the ratio to the slowest input
says how far that is from "about the time of the slowest".

Results are appended to benchmarks/results/learned_cost.json with the machine (CPU model, cores,
BLAS, load average: a long benchmark may be running beside it) and a table is printed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO / "benchmarks")]

from machine_info import describe  # noqa: E402
from stepstone.rank import rank_sources  # noqa: E402
from stepstone.rank.methods.learned import INPUT_METHODS  # noqa: E402

DATASETS = REPO.parent / "shared" / "datasets"


def score_seconds(target: Path, method: str, n: int, repeats: int) -> float:
    runs = []
    for _ in range(repeats):
        ranking = rank_sources(target, method=method, num_examples=n, seed=1,
                               show_progress=False, advice=False, stability="off")
        runs.append(ranking.timings["score"])
    return statistics.median(runs)


def measure(target: Path, args: argparse.Namespace) -> dict:
    rank_sources(target, num_examples=args.n, seed=1, show_progress=False, advice=False,
                 stability="off")  # embeds the target once
    inputs = {m: round(score_seconds(target, m, args.n, args.repeats), 3) for m in INPUT_METHODS}
    learned = round(score_seconds(target, "learned", args.n, args.repeats), 3)
    slowest = max(inputs, key=inputs.get)
    return {"target": target.name, "inputs": inputs, "sum_of_inputs": round(sum(inputs.values()), 3),
            "slowest_input": slowest, "learned": learned,
            "learned_over_slowest": round(learned / inputs[slowest], 2),
            "learned_over_sum": round(learned / sum(inputs.values()), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", default="tweeteval_irony,empathy_score",
                        help="pool tasks, comma-separated")
    parser.add_argument("--n", type=int, default=1000, help="target examples")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" /
                                             "learned_cost.json"))
    args = parser.parse_args()
    cache = tempfile.mkdtemp(prefix="learned-cost-")
    old = os.environ.get("STEPSTONE_CACHE")
    os.environ["STEPSTONE_CACHE"] = cache
    try:
        rows = [measure(DATASETS / name, args) for name in args.targets.split(",") if name]
    finally:
        shutil.rmtree(cache, ignore_errors=True)
        if old is None:
            os.environ.pop("STEPSTONE_CACHE", None)
        else:
            os.environ["STEPSTONE_CACHE"] = old
    record = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
              "machine": describe(), "hub": "bundled", "examples": args.n,
              "repeats": args.repeats, "rows": rows}
    out = Path(args.out)
    history = json.loads(out.read_text()) if out.is_file() else []
    out.write_text(json.dumps(history + [record], indent=2) + "\n")
    machine = record["machine"]
    print(f"{machine['cpu']}, {machine['cores']} cores, load {machine['load_average'][0]:.1f}")
    for row in rows:
        print(f"\n{row['target']} ({args.n} examples), median scoring seconds of {args.repeats}:")
        for method, seconds in row["inputs"].items():
            print(f"  {method:<20} {seconds:>7.2f}")
        print(f"  {'sum of inputs':<20} {row['sum_of_inputs']:>7.2f}")
        print(f"  {'learned':<20} {row['learned']:>7.2f}  ({row['learned_over_slowest']:.2f}x the "
              f"slowest input, {row['slowest_input']}; {row['learned_over_sum']:.2f}x the sum)")
    print(f"\nappended to {out}")


if __name__ == "__main__":
    main()
