"""In-process sections of compare_hfselect.py: score agreement, ESM fit, encoder, GPU.

Each function returns a list of result records (dicts) for the results file.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bench_inputs import DIM, MODEL, REPO, TARGETS, ensure_pool, esm_ids, target_file

#: ESMs in the score check, and how many of them also get the (slow) naive evidence
CHECK_ESMS = 10
NAIVE_ESMS = 2


def _target(work: Path, key: str, n: int):
    from stepstone.data import load_task

    spec = TARGETS[key]
    return load_task(str(target_file(work, spec, n)), text_column="text", label_column="label",
                     task_type="regression" if spec.regression else "classification")


def _embeddings(work: Path, key: str, n: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """float32 MiniLM embeddings (cached under the work folder) and labels of a target."""
    from stepstone.encode import EmbeddingCache, Encoder

    task = _target(work, key, n)
    encoder = Encoder(MODEL, cache=EmbeddingCache(work / "cache" / "embeddings"),
                      show_progress=False)
    return encoder.embed_task(task), task.labels, task.is_regression


def _maps(work: Path, count: int) -> tuple[list[str], np.ndarray]:
    from stepstone.esm import load_esm

    pool = ensure_pool(work, count)
    folders = [str(pool / esm_id) for esm_id in esm_ids(count)]
    return folders, np.stack([load_esm(f).augmented() for f in folders])


def _identity(work: Path) -> tuple[list[str], np.ndarray]:
    """An identity ESM: through it, ESM-LogME is LogME of the base embeddings themselves."""
    from stepstone.esm import ESM, ESMConfig, load_esm, save_esm

    folder = work / "check" / "identity"
    if not folder.is_dir():
        save_esm(ESM(weight=np.eye(DIM), bias=np.zeros(DIM),
                     config=ESMConfig(base_model_name=MODEL, task_id="identity")), folder,
                 dtype="float32")
    return [str(folder)], load_esm(folder).augmented()[None]


def check(work: Path, hf_python: str, *, n: int, esms: int = CHECK_ESMS) -> list[dict]:
    """stepstone's ESM-LogME against hfselect's LogME (and the naive evidence) on the same
    features: MiniLM embeddings through the pool's ESMs (rank 383 of 384, but not along
    coordinate axes), through the identity (LogME of the embeddings: two all-zero dimensions),
    N < D, and full-rank synthetic features."""
    from safetensors.numpy import save_file

    from stepstone.scores import ESMLogMEScorer, TargetStats
    from tests.scores.naive import naive_logme

    pool = _maps(work, esms)
    c2 = _embeddings(work, "c2", n)
    rng = np.random.default_rng(0)
    cases = {
        "MiniLM through ESMs, C=2": (*c2, pool),
        "MiniLM through ESMs, regression": (*_embeddings(work, "reg", n), pool),
        "MiniLM itself (identity map), C=2": (*c2, _identity(work)),
        "MiniLM through ESMs, C=2, N=200 < D": (c2[0][:200], c2[1][:200], False, pool),
        "Gaussian (full rank) through ESMs, C=2": (
            rng.standard_normal((n, DIM)).astype(np.float32), c2[1], False, pool),
    }
    records = []
    for name, (features, labels, regression, (folders, maps)) in cases.items():
        f64 = features.astype(np.float64)
        stats = TargetStats.from_features(f64, labels, regression=regression)
        ours = ESMLogMEScorer(stats, backend="lapack")(maps)
        f_aug = np.hstack([f64, np.ones((len(f64), 1))])
        naive = np.array([naive_logme(f_aug @ a, labels, regression=regression)
                          for a in maps[:NAIVE_ESMS]])
        job_dir = work / "check"
        job_dir.mkdir(parents=True, exist_ok=True)
        save_file({"features": f64, "labels": np.asarray(labels)}, str(job_dir / "f.safetensors"))
        job = {"features": str(job_dir / "f.safetensors"), "esms": folders,
               "regression": regression, "out": str(job_dir / "out.json")}
        (job_dir / "job.json").write_text(json.dumps(job))
        subprocess.run([hf_python, str(REPO / "benchmarks" / "hfselect_runner.py"), "logme",
                        str(job_dir / "job.json")], check=True, capture_output=True,
                       cwd=job_dir)
        hf = json.loads((job_dir / "out.json").read_text())
        raw = {kind: np.array([r[kind]["score"] for r in hf["rows"]])
               for kind in ("float64", "float32")}
        corrected = {kind: _with_log_alpha_term(hf["rows"], kind, len(f64)) for kind in raw}
        ranks = np.array([r["float64"]["rank"] for r in hf["rows"]])
        records.append({
            "section": "check", "case": name, "n": len(f64), "esms": len(maps),
            "hfselect_rank_min": int(ranks.min()), "hfselect_rank_max": int(ranks.max()),
            "max_rel_vs_naive": _rel(ours[:NAIVE_ESMS], naive),
            "max_rel_vs_hfselect": _rel(ours, raw["float64"]),
            "max_rel_vs_hfselect_corrected": _rel(ours, corrected["float64"]),
            "max_rel_vs_hfselect_float32_pipeline_corrected": _rel(ours, corrected["float32"]),
            "mean_shift_hfselect_minus_ours": float(np.mean(raw["float64"] - ours)),
            "score_span_ours": float(ours.max() - ours.min()),
            "same_order_as_hfselect": bool((np.argsort(ours) ==
                                            np.argsort(raw["float64"])).all()),
        })
    return records


def _with_log_alpha_term(rows: list[dict], kind: str, n: int) -> np.ndarray:
    """hfselect's scores with the −(D − k)/2·log α term of each column put back (it keeps only
    the k eigenvalues it found and drops the rest from log det(αI + βFᵀF))."""
    return np.array([r[kind]["score"] - np.mean([(DIM - r[kind]["rank"]) * np.log(a)
                                                 for a in r[kind]["alphas"]]) / (2 * n)
                     for r in rows])


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.abs(b)))


def fit(*, n: int = 10_000, repeats: int = 3) -> list[dict]:
    """Closed-form ESM fit (ridge towards identity, strength by leave-one-out) on N x 384."""
    from stepstone.esm import fit_linear

    rng = np.random.default_rng(1)
    mix = rng.standard_normal((DIM, DIM)) * np.exp(-np.arange(DIM) / 60.0)[:, None]
    base = rng.standard_normal((n, DIM)) @ mix * 0.1
    tuned = base @ (np.eye(DIM) + 0.1 * rng.standard_normal((DIM, DIM))).T \
        + 0.01 * rng.standard_normal((n, DIM))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fit_linear(base.astype(np.float32), tuned.astype(np.float32))
        times.append(time.perf_counter() - t0)
    return [{"section": "fit", "pairs": n, "dim": DIM, "seconds": float(np.median(times)),
             "all_seconds": times}]


def encoder(work: Path, *, n: int, repeats: int = 2) -> list[dict]:
    """MiniLM forward passes in float32 and with bfloat16 autocast (length-sorted batches)."""
    import torch

    from stepstone.encode import Encoder

    task = _target(work, "c2", n)
    times: dict[str, list[float]] = {"float32": [], "bfloat16": []}
    out = {}
    for _ in range(repeats):
        for precision in times:
            enc = Encoder(MODEL, cache=False, show_progress=False, precision=precision)
            enc.embed(task.texts[:8])  # load the model outside the clock
            t0 = time.perf_counter()
            out[precision] = enc.embed(task.texts)
            times[precision].append(time.perf_counter() - t0)
    a, b = out["float32"], out["bfloat16"]
    cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    return [{"section": "encoder", "n": n, "threads": torch.get_num_threads(),
             "seconds_float32": float(np.median(times["float32"])),
             "seconds_bfloat16": float(np.median(times["bfloat16"])),
             "min_cosine_bfloat16": float(cosine.min())}]


def gpu(work: Path, *, m: int, n: int, block: int = 1000) -> list[dict]:
    """M synthetic ESMs generated on the GPU, scored with the torch backend; a sample is
    checked against the CPU (LAPACK) path."""
    import torch

    from stepstone.scores import ESMLogMEScorer, TargetStats

    if not torch.cuda.is_available():
        return [{"section": "gpu", "status": "skipped", "reason": "no CUDA device"}]
    features, labels, regression = _embeddings(work, "c2", n)
    stats = TargetStats.from_features(features, labels, regression=regression)
    scorer = ESMLogMEScorer(stats, backend="torch", device="cuda")
    gen = torch.Generator(device="cuda").manual_seed(0)

    def make(count: int) -> torch.Tensor:
        w = torch.eye(DIM, device="cuda") + 0.5 / DIM**0.5 * torch.randn(
            count, DIM, DIM, device="cuda", generator=gen)
        b = 0.02 * torch.randn(count, 1, DIM, device="cuda", generator=gen)
        return torch.cat([w.transpose(1, 2), b], dim=1).half()

    sample = make(256)
    gpu_sample = scorer(sample)
    cpu_sample = ESMLogMEScorer(stats, backend="lapack")(sample.cpu().numpy())
    scorer(make(block))  # warm-up: cuSOLVER handles, kernels
    torch.cuda.synchronize()
    elapsed, done = 0.0, 0
    while done < m:
        maps = make(min(block, m - done))
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        scorer(maps)
        elapsed += time.perf_counter() - t0
        done += len(maps)
    return [{"section": "gpu", "status": "ok", "device": torch.cuda.get_device_name(),
             "m": m, "n": n, "seconds": elapsed, "per_esm_ms": 1e3 * elapsed / m,
             "max_rel_vs_cpu": _rel(gpu_sample, cpu_sample)}]


if __name__ == "__main__":  # pragma: no cover - used through compare_hfselect.py
    sys.exit("run benchmarks/compare_hfselect.py")
