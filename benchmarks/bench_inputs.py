"""Inputs shared by stepstone and hfselect in compare_hfselect.py: targets, ESM pool, hubs.

Everything is written once under the work folder and reused by later runs:

- ``targets/<target>-n<N>.jsonl``: N examples ({"text", "label"}) of a real task from
  ../shared/datasets, sampled with a fixed seed;
- ``pool/esm_XXXXX/``: random near-identity linear ESMs in hfselect's layout (config.json +
  model.safetensors, float16 like stepstone's hubs), made for MiniLM with mean pooling;
- ``hubs/m<M>/``: a stepstone hub whose ``esms/`` links the first M ESMs of the pool, with its
  catalog and its pack already built (so timed runs measure ranking, not one-off indexing).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
MODEL = "sentence-transformers/all-MiniLM-L6-v2"
DIM = 384
SEED = 42


@dataclass(frozen=True)
class TargetSpec:
    """A benchmark target: a pool task, optionally restricted to its most frequent classes."""

    key: str
    dataset: str
    regression: bool = False
    top_classes: int | None = None  # keep the k most frequent classes (relabelled 0..k-1)

    @property
    def classes(self) -> str:
        return "reg" if self.regression else f"C={self.top_classes or 2}"


TARGETS = {
    "c2": TargetSpec("c2", "tweeteval_offensive"),  # tweets, 2 classes, 11,851 examples
    "c6": TargetSpec("c6", "tweeteval_emoji", top_classes=6),  # tweets, 6 emoji, 11,287
    "reg": TargetSpec("reg", "query_wellformedness", regression=True),  # queries, 17,500
}


def dataset_root() -> Path:
    env = os.environ.get("STEPSTONE_DATASETS")
    for candidate in ([Path(env)] if env else []) + [REPO.parent / "shared" / "datasets",
                                                     Path.cwd().parent / "shared" / "datasets"]:
        if candidate.is_dir():
            return candidate
    raise SystemExit("no ../shared/datasets (set STEPSTONE_DATASETS to the dataset pool)")


def target_file(work: Path, spec: TargetSpec, n: int) -> Path:
    """Write (once) and return the JSONL file with N examples of the target."""
    path = work / "targets" / f"{spec.key}-n{n}.jsonl"
    if path.is_file():
        return path
    rows = [json.loads(line) for line in
            (dataset_root() / spec.dataset / "train.jsonl").read_text().splitlines() if line]
    if spec.top_classes:
        counts = Counter(r["label"] for r in rows)
        keep = {label: i for i, (label, _) in enumerate(counts.most_common(spec.top_classes))}
        rows = [{"text": r["text"], "label": keep[r["label"]]} for r in rows if r["label"] in keep]
    order = np.random.default_rng(SEED).permutation(len(rows))
    if len(rows) < n:
        raise SystemExit(f"{spec.dataset} has {len(rows)} usable examples, fewer than N={n}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as out:
        for i in order[:n]:
            out.write(json.dumps({"text": rows[i]["text"], "label": rows[i]["label"]}) + "\n")
    os.replace(tmp, path)
    return path


def esm_ids(m: int) -> list[str]:
    return [f"esm_{i:05d}" for i in range(m)]


def ensure_pool(work: Path, m: int, *, log=print) -> Path:
    """The first ``m`` random ESMs of the pool (written once; reproducible from their index)."""
    from stepstone.esm import ESM, ESMConfig, save_esm

    pool = work / "pool"
    missing = [i for i, esm_id in enumerate(esm_ids(m)) if not (pool / esm_id).is_dir()]
    if missing:
        log(f"writing {len(missing)} random ESMs to {pool} ...")
    started = time.perf_counter()
    for i in missing:
        rng = np.random.default_rng([SEED, i])
        # near identity, like a fine-tuned encoder's map; storage rounds to float16
        weight = np.eye(DIM) + 0.5 / np.sqrt(DIM) * rng.standard_normal((DIM, DIM))
        config = ESMConfig(base_model_name=MODEL, task_id=f"bench/esm_{i:05d}",
                           num_examples=1000, stepstone={
                               "task_name": f"esm_{i:05d}", "task_type": "classification",
                               "embedding": {"model_name": MODEL, "pooling": "mean",
                                             "max_length": 128, "pair_mode": "tokenizer"}})
        save_esm(ESM(weight=weight, bias=0.02 * rng.standard_normal(DIM), config=config),
                 pool / f"esm_{i:05d}")
    if missing:
        log(f"  done in {time.perf_counter() - started:.0f} s")
    return pool


def ensure_hub(work: Path, m: int, *, log=print) -> Path:
    """Hub of the first ``m`` pool ESMs (symlinked), with catalog and pack built."""
    from stepstone.hub import Hub
    from stepstone.hub.packed import ensure_pack

    pool = ensure_pool(work, m, log=log)
    root = work / "hubs" / f"m{m}"
    esms = root / "esms"
    esms.mkdir(parents=True, exist_ok=True)
    for esm_id in esm_ids(m):
        link = esms / esm_id
        if not link.exists():
            try:
                link.symlink_to(pool / esm_id, target_is_directory=True)
            except OSError:  # no symlinks here: copy
                shutil.copytree(pool / esm_id, link)
    started = time.perf_counter()
    hub = Hub(root)
    index = ensure_pack(hub, DIM, show_progress=False)
    if index is None or len(index.ids) != m:
        raise SystemExit(f"could not pack {root} ({index and len(index.ids)} of {m} ESMs)")
    log(f"hub {root}: {m} ESMs, catalog and pack ready ({time.perf_counter() - started:.1f} s; "
        f"pack built in {index.built_seconds:.1f} s when it was made)")
    return root


def model_path() -> str:
    from stepstone.encode.models import resolve_model_path

    return resolve_model_path(MODEL)
