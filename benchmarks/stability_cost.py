"""What the ranking's stability costs next to the ranking itself.

    python3 benchmarks/stability_cost.py                  # bundled hub + a 10,000-ESM hub
    python3 benchmarks/stability_cost.py --sizes ''       # bundled hub only
    python3 benchmarks/stability_cost.py --keep           # keep the synthetic hub for reruns

Target: tweeteval_irony, 1,000 examples (sample seed 1). On the bundled hub (61 ESMs) the
target is ranked with a fresh embedding cache (cold: the first ranking of a new target embeds
it) and then ``--repeats`` times with the embedding cached (warm: re-ranking a target); each run
has stability on with the defaults (100 resamples, top 8 re-scored), and the ranking's own time
is its total minus the stability step. The default must cost at most half of the ranking's own
time (issue 23). On the synthetic hub of random near-identity ESMs (benchmarks/scale.py writes
it: ~0.6 GB per 1,000 ESMs) the same is measured once, warm: stability re-scores only the leading
sources, so its cost must not grow with the hub.

Results are appended to benchmarks/results/stability_cost.json with the machine (CPU model,
cores, BLAS, load average: a long benchmark may be running beside it) and a table is printed.
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

TARGET = REPO.parent / "shared" / "datasets" / "tweeteval_irony"


def timed(hub, n: int) -> dict:
    ranking = rank_sources(TARGET, hub=hub, num_examples=n, seed=1, show_progress=False,
                           advice=False)
    t = ranking.timings
    own = t["total"] - t.get("stability", 0.0)
    return {"own_seconds": round(own, 3), "embed_seconds": round(t["embed"], 3),
            "score_seconds": round(t["score"], 3),
            "stability_seconds": round(t.get("stability", 0.0), 3),
            "ratio": round(t.get("stability", 0.0) / own, 3),
            "tied": len(ranking.stability.tied) if ranking.stability else None}


def bundled(args: argparse.Namespace) -> dict:
    cold_cache = tempfile.mkdtemp(prefix="stability-cold-")
    old = os.environ.get("STEPSTONE_CACHE")
    os.environ["STEPSTONE_CACHE"] = cold_cache  # the first ranking embeds the target
    try:
        cold = timed(None, args.n)
        warm = [timed(None, args.n) for _ in range(args.repeats)]
    finally:
        shutil.rmtree(cold_cache, ignore_errors=True)
        if old is None:
            os.environ.pop("STEPSTONE_CACHE", None)
        else:
            os.environ["STEPSTONE_CACHE"] = old
    median = {k: statistics.median(r[k] for r in warm) for k in warm[0] if k != "tied"}
    return {"hub": "bundled (61 ESMs)", "cold": cold, "warm_median": median, "warm": warm}


def synthetic(size: int, args: argparse.Namespace) -> dict:
    from scale import DIM, make_hub
    from stepstone.hub.packed import ensure_pack

    root = Path(args.work) / f"hub-{size}"
    hub = make_hub(root, size)
    ensure_pack(hub, DIM, show_progress=False)
    try:
        return {"hub": f"synthetic ({size} ESMs)", "warm": timed(hub, args.n)}
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="target examples")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", default="10000", help="synthetic hub sizes ('' for none)")
    parser.add_argument("--work", default=str(REPO / "benchmarks" / "work" / "scale"))
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" /
                                             "stability_cost.json"))
    args = parser.parse_args()
    rows = [bundled(args)] + [synthetic(int(s), args) for s in args.sizes.split(",") if s]
    record = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
              "machine": describe(), "target": f"tweeteval_irony, {args.n} examples, seed 1",
              "defaults": "100 resamples, top 8 re-scored", "rows": rows}
    out = Path(args.out)
    history = json.loads(out.read_text()) if out.is_file() else []
    out.write_text(json.dumps(history + [record], indent=2) + "\n")
    print(f"{record['machine']['cpu']}, {record['machine']['cores']} cores, load "
          f"{record['machine']['load_average'][0]:.1f}")
    print(f"{'hub':<24} {'run':<12} {'ranking s':>9} {'stability s':>11} {'ratio':>6}")
    for row in rows:
        runs = [("cold", row["cold"])] if "cold" in row else []
        runs.append(("warm median" if "warm_median" in row else "warm",
                     row.get("warm_median", row["warm"])))
        for name, r in runs:
            print(f"{row['hub']:<24} {name:<12} {r['own_seconds']:>9.2f} "
                  f"{r['stability_seconds']:>11.2f} {r['ratio']:>6.2f}")
    print(f"appended to {out}")


if __name__ == "__main__":
    main()
