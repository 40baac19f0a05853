"""Scale-out benchmark: rank a synthetic hub of 10k / 50k ESMs locally and on Ray.

    python3 benchmarks/scale.py                       # 10k and 50k ESMs, local vs Ray (2 workers)
    python3 benchmarks/scale.py --sizes 2000 --keep   # a quick look; keep the hub for reruns

Each size gets a hub of random near-identity ESMs for all-MiniLM-L6-v2 (D=384, float16, the
bundled hub's format), written once under --work and packed (the pack build is timed too). The
target is 1,000 real tweets (tweeteval_irony) embedded once (cached). For each engine the script
times `rank_sources(..., engine=...)` and checks that every engine gives the same ranking as the
local one. Results go to benchmarks/results/scale.json and a table is printed.

Disk: about 0.6 GB per 1,000 ESMs (folders + pack); the hubs are deleted afterwards unless --keep.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
# Ray workers of a local Ray inherit this environment: they import the same stepstone
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"),
                                                         os.environ.get("PYTHONPATH")]))

from stepstone.esm import ESMConfig  # noqa: E402
from stepstone.hub import Hub  # noqa: E402
from stepstone.hub.packed import ensure_pack  # noqa: E402
from stepstone.rank import rank_sources  # noqa: E402

MODEL = "sentence-transformers/all-MiniLM-L6-v2"
DIM = 384
TARGET = REPO.parent / "shared" / "datasets" / "tweeteval_irony"


def make_hub(root: Path, count: int, *, seed: int = 0) -> Hub:
    """``count`` ESM folders written directly (a build would fine-tune; the ranking cost does not
    depend on where the weights came from)."""
    from safetensors.numpy import save_file

    if (root / ".complete").is_file():
        return Hub(root)
    shutil.rmtree(root, ignore_errors=True)
    rng = np.random.default_rng(seed)
    embedding = {"model_name": MODEL, "pooling": "mean", "max_length": 128,
                 "pair_mode": "tokenizer"}
    started = time.perf_counter()
    for i in range(count):
        folder = root / "esms" / f"synthetic_{i:06d}"
        folder.mkdir(parents=True)
        config = ESMConfig(base_model_name=MODEL, task_id=f"synthetic_{i:06d}",
                           num_examples=4000, esm_embedding_dim=DIM,
                           stepstone={"task_name": f"synthetic_{i:06d}",
                                      "task_type": "classification", "embedding": embedding})
        (folder / "config.json").write_text(json.dumps(config.to_dict()))
        weight = np.eye(DIM, dtype=np.float32) + rng.standard_normal((DIM, DIM),
                                                                      dtype=np.float32) * 0.05
        bias = rng.standard_normal(DIM, dtype=np.float32) * 0.05
        save_file({"model.weight": weight.astype(np.float16), "model.bias": bias.astype(
            np.float16)}, str(folder / "model.safetensors"))
    print(f"  wrote {count} ESM folders in {time.perf_counter() - started:.0f} s", flush=True)
    (root / ".complete").write_text(str(count))
    return Hub(root)


def run(size: int, args: argparse.Namespace) -> dict:
    root = Path(args.work) / f"hub-{size}"
    print(f"hub of {size} ESMs in {root}", flush=True)
    hub = make_hub(root, size)
    started = time.perf_counter()
    ensure_pack(hub, DIM, show_progress=False)
    pack_seconds = time.perf_counter() - started
    row: dict = {"esms": size, "pack_seconds": round(pack_seconds, 1), "engines": {}}
    reference = None
    for engine in args.engines:
        ranking = rank_sources(TARGET, hub=hub, num_examples=args.n, engine=engine,
                               show_progress=False)
        score = ranking.timings["score"]
        order = [(s.esm_id, s.score) for s in ranking]
        same = None if reference is None else order == reference
        reference = reference or order
        row["engines"][engine] = {"score_seconds": round(score, 2),
                                  "esms_per_second": round(size / score, 1),
                                  "ms_per_esm": round(1000 * score / size, 3),
                                  "total_seconds": round(ranking.timings["total"], 2),
                                  "same_ranking_as_local": same}
        print(f"  {engine:>5}: {score:7.1f} s scoring, {size / score:8.1f} ESMs/s"
              + ("" if same is None else f", identical to local: {same}"), flush=True)
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,50000")
    parser.add_argument("--engines", default="local,ray")
    parser.add_argument("--workers", type=int, default=2, help="CPUs of the local Ray")
    parser.add_argument("--n", type=int, default=1000, help="target examples")
    parser.add_argument("--work", default=str(REPO / "benchmarks" / "work" / "scale"))
    parser.add_argument("--keep", action="store_true", help="keep the synthetic hubs")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "scale.json"))
    args = parser.parse_args()
    args.engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if "ray" in args.engines:
        import ray

        ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False)
    rows = [run(int(size), args) for size in args.sizes.split(",")]
    result = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
              "machine": platform.platform(), "cpus": os.cpu_count(),
              "ray_workers": args.workers if "ray" in args.engines else None,
              "target": f"{TARGET.name}, {args.n} examples", "rows": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"\n| ESMs | pack build (s) | engine | scoring (s) | ESMs/s | ms/ESM | same ranking |")
    print("|---:|---:|---|---:|---:|---:|---|")
    for row in rows:
        for engine, r in row["engines"].items():
            same = "reference" if r["same_ranking_as_local"] is None else (
                "yes" if r["same_ranking_as_local"] else "NO")
            print(f"| {row['esms']:,} | {row['pack_seconds']} | {engine} | {r['score_seconds']} "
                  f"| {r['esms_per_second']} | {r['ms_per_esm']} | {same} |")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
