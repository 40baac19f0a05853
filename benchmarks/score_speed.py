"""Time every score on synthetic features, and optionally every ranking method on a hub.

Timings only mean something on a quiet machine; validate the script at small sizes, run it
for real later:

    python3 benchmarks/score_speed.py --n 1000 --d 384 --classes 2 20 --repeats 3
    python3 benchmarks/score_speed.py --hub src/stepstone/hubs/all-MiniLM-L6-v2 \
        --target ../shared/datasets/tweeteval_irony --num-examples 1000 \
        --methods esm-logme esm-hscore textemb random [--models artifacts/models]

Prints one JSON object: per score (and classes) the best of ``--repeats`` wall times in seconds,
per method the time `rank_sources` spent scoring (the target's embeddings come from the cache
after the first method), plus the machine description.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from stepstone.scores import SCORES  # noqa: E402


def synthetic(n: int, d: int, classes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    features = rng.standard_normal((n, d)) @ rng.standard_normal((d, d)) / np.sqrt(d)
    features[:, :4] += labels[:, None]
    return features, labels


def time_scores(n: int, d: int, classes: list[int], repeats: int) -> dict:
    out: dict = {}
    for c in classes:
        features, labels = synthetic(n, d, c)
        probs = np.exp(features[:, :10])
        probs /= probs.sum(1, keepdims=True)
        for name, info in SCORES.items():
            data = features if info.inputs == "features" else probs
            best = min(_timed(lambda: info(data, labels)) for _ in range(repeats))
            out[f"{name} (C={c})"] = round(best, 4)
    return out


def time_methods(args: argparse.Namespace) -> dict:
    from stepstone.rank import rank_sources

    out = {}
    for method in args.methods:
        ranking = rank_sources(args.target, hub=args.hub, method=method,
                               num_examples=args.num_examples, models_dir=args.models,
                               show_progress=False)
        out[method] = {"score_seconds": round(ranking.timings["score"], 3),
                       "sources": len(ranking), "skipped": len(ranking.skipped)}
    return out


def _timed(func) -> float:
    started = time.perf_counter()
    func()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--d", type=int, default=384)
    parser.add_argument("--classes", type=int, nargs="+", default=[2, 20])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--hub", help="also time ranking methods on this hub")
    parser.add_argument("--target")
    parser.add_argument("--num-examples", type=int, default=1000)
    parser.add_argument("--methods", nargs="+", default=["esm-logme", "textemb", "random"])
    parser.add_argument("--models", help="kept tuned models (logme, leep, nce, taskemb)")
    args = parser.parse_args()
    report = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                          "platform": platform.platform()},
              "scores": {"n": args.n, "d": args.d,
                         "seconds": time_scores(args.n, args.d, args.classes, args.repeats)}}
    if args.hub:
        if not args.target:
            parser.error("--hub needs --target")
        report["methods"] = time_methods(args)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
