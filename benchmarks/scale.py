"""Scale-out benchmark: rank a synthetic hub of 10k / 50k ESMs locally and on Ray.

    python3 benchmarks/scale.py                       # 10k and 50k ESMs, local vs Ray (2 workers)
    python3 benchmarks/scale.py --sizes 2000 --keep   # a quick look; keep the hub for reruns
    python3 benchmarks/scale.py --sizes '' --synthetic 100000 --engines local   # streamed

Each size gets a hub of random near-identity ESMs for all-MiniLM-L6-v2 (D=384, float16, the
bundled hub's format), written once under --work and packed (the pack build is timed too). The
target is 1,000 real tweets (tweeteval_irony) embedded once (cached). For each engine the script
times `rank_sources(..., engine=...)` and checks that every engine gives the same ranking as the
local one. Results go to benchmarks/results/scale.json and a table is printed.

For each hub the pack read throughput is measured alone too (every block read, nothing scored),
with the pack's pages dropped from the page cache first (cold) and again right after (warm).

``--synthetic M`` scores M ESMs that never touch the disk (a float16 pack of 100,000 ESMs is
~30 GB): blocks of 256 random near-identity ESMs, 8 distinct blocks made once and streamed
again and again into the local engine (its cost does not depend on the values); the peak RSS
of the process is reported (run it as its own invocation, so earlier phases do not count).

Disk: about 0.6 GB per 1,000 ESMs (folders + pack); the hubs are deleted afterwards unless --keep.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import mmap
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO / "benchmarks")]
# Ray workers of a local Ray inherit this environment: they import the same stepstone
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"),
                                                         os.environ.get("PYTHONPATH")]))

from stepstone.esm import ESMConfig  # noqa: E402
from stepstone.hub import Hub  # noqa: E402
from stepstone.hub.packed import BLOCK_SIZE, ensure_pack, iter_hub_blocks, pack_folder  # noqa
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
    row: dict = {"esms": size, "pack_seconds": round(pack_seconds, 1),
                 "pack_read": {kind: read_pack(hub, cold=kind == "cold")
                               for kind in ("cold", "warm")}, "engines": {}}
    for kind, r in row["pack_read"].items():
        print(f"  pack read ({kind}): {r['seconds']} s, {r['mb_per_second']} MB/s, "
              f"{r['esms_per_second']} ESMs/s", flush=True)
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


def read_pack(hub: Hub, *, cold: bool) -> dict:
    """Read every block of the hub's pack as ranking does, scoring nothing."""
    folder = pack_folder(hub)
    files = list(folder.glob(f"maps-d{DIM}-*.safetensors"))
    if cold:  # drop this file's pages only (nothing else of the machine's page cache)
        for path in files:
            with open(path, "rb") as handle:
                os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    skipped: dict[str, str] = {}
    started = time.perf_counter()
    count = nbytes = 0
    for entries, maps in iter_hub_blocks(hub, hub.entries(), dim=DIM, skipped=skipped,
                                         as_stored=True, show_progress=False):
        # blocks are mapped, not copied: touch one byte per page so that every page is read
        np.ascontiguousarray(maps).reshape(-1).view(np.uint8)[::mmap.PAGESIZE].sum()
        count += len(entries)
        nbytes += maps.nbytes
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 2), "esms": count, "mb": round(nbytes / 1e6),
            "mb_per_second": round(nbytes / 1e6 / seconds),
            "esms_per_second": round(count / seconds)}


def synthetic(count: int, args: argparse.Namespace) -> dict:
    """Score ``count`` streamed in-memory ESMs with the local engine; time and peak RSS."""
    import resource

    from stepstone.data import load_task
    from stepstone.encode import Encoder
    from stepstone.scores import ESMLogMEScorer, TargetStats

    task = load_task(TARGET, num_examples=args.n)
    features = Encoder(MODEL, pooling="mean", show_progress=False).embed_task(task)
    stats = TargetStats.from_features(features, task.labels, regression=task.is_regression)
    rng = np.random.default_rng(1)
    pool = [(np.eye(DIM + 1, DIM, dtype=np.float32) + 0.05 * rng.standard_normal(
        (BLOCK_SIZE, DIM + 1, DIM), dtype=np.float32)).astype(np.float16) for _ in range(8)]

    def blocks():
        for start in range(0, count, BLOCK_SIZE):
            yield start, pool[(start // BLOCK_SIZE) % len(pool)][:count - start]

    scorer = ESMLogMEScorer(stats, device="cpu")
    started = time.perf_counter()
    finite = sum(int(np.isfinite(s).sum()) for _, s in scorer.score_blocks(blocks()))
    seconds = time.perf_counter() - started
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    row = {"esms": count, "engine": f"local ({scorer.workers} worker threads)",
           "score_seconds": round(seconds, 1), "esms_per_second": round(count / seconds, 1),
           "ms_per_esm": round(1000 * seconds / count, 3), "finite_scores": finite,
           "peak_rss_mb": round(rss)}
    print(f"  synthetic {count:,} ESMs: {seconds:.1f} s, {count / seconds:.1f} ESMs/s, "
          f"peak RSS {rss:.0f} MB", flush=True)
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
    parser.add_argument("--synthetic", type=int, default=0,
                        help="also score this many streamed in-memory ESMs (local engine)")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "scale.json"))
    args = parser.parse_args()
    args.engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if "ray" in args.engines:
        import ray

        ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False)
    rows = [run(int(size), args) for size in args.sizes.split(",") if size]
    from machine_info import describe

    result = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
              "machine": describe(), "command": " ".join(sys.argv),
              "ray_workers": args.workers if "ray" in args.engines else None,
              "target": f"{TARGET.name}, {args.n} examples", "rows": rows}
    if args.synthetic:
        result["synthetic"] = synthetic(args.synthetic, args)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    runs = json.loads(out.read_text()) if out.is_file() else []
    runs = runs if isinstance(runs, list) else [runs]  # older files held one run
    out.write_text(json.dumps(runs + [result], indent=2) + "\n")
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
