"""stepstone vs hfselect 0.2.1 on the same targets and ESMs, in the same run.

    python3 benchmarks/compare_hfselect.py                 # everything (~45 min on 2 cores)
    python3 benchmarks/compare_hfselect.py --quick         # tiny sizes (~5 min): the script works
    python3 benchmarks/compare_hfselect.py --m 1000 --n 1000 --targets c2   # one piece
    python3 benchmarks/compare_hfselect.py --prepare --m 10000   # inputs only (ESM pool, hubs)
    python3 benchmarks/compare_hfselect.py --table         # print the table of results so far

Sections (``--sections``): ``rank`` runs ``stepstone rank`` and hfselect's ranking path as fresh
processes, one after the other for each (M, N, target), measuring wall time and peak RSS from
outside, phases from inside; ``check`` compares scores on identical features; ``fit`` times the
closed-form ESM fit; ``encoder`` compares float32 and bfloat16 forward passes; ``gpu`` scores
100,000 synthetic ESMs with the torch backend when CUDA is present.

Results are appended to ``benchmarks/results/compare_hfselect.jsonl`` (one record per
measurement, each with the session, date, machine and versions); a configuration already there is
skipped, so an interrupted or piecewise run resumes (``--force`` measures again). hfselect runs
only where its memory estimate fits (it keeps every ESM's mapped features) and is stopped after
``--hfselect-timeout`` seconds. Inputs (targets, the ESM pool, hubs) live in ``benchmarks/work``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:0] = [str(HERE), str(REPO / "src"), str(REPO)]

from bench_inputs import MODEL, TARGETS, ensure_hub, esm_ids, model_path, target_file  # noqa
from bench_report import render_table  # noqa: E402

RESULTS = REPO / "benchmarks" / "results" / "compare_hfselect.jsonl"
GB = 1 << 30


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ints = lambda text: [int(x) for x in text.split(",") if x]  # noqa: E731
    words = lambda text: [x for x in text.split(",") if x]  # noqa: E731
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--m", type=ints, default=[100, 1000, 10000], help="ESM counts")
    p.add_argument("--n", type=ints, default=[1000, 10000], help="target sizes")
    p.add_argument("--targets", type=words, default=list(TARGETS), help="c2,c6,reg")
    p.add_argument("--tools", type=words, default=["hfselect", "stepstone"])
    p.add_argument("--sections", type=words, default=["rank", "check", "fit", "encoder", "gpu"])
    p.add_argument("--repeats", type=int, default=1, help="runs per configuration and tool")
    p.add_argument("--hfselect-max-m", type=int, default=1000,
                   help="largest M hfselect runs at (10000 needs ~20 GB and ~20 min)")
    p.add_argument("--hfselect-timeout", type=int, default=1200, help="seconds per hfselect run")
    p.add_argument("--gpu-m", type=int, default=100_000)
    p.add_argument("--quick", action="store_true",
                   help="M=20, N=200, targets c2 and reg, GPU M=2000: a smoke test")
    p.add_argument("--work", type=Path, default=REPO / "benchmarks" / "work")
    p.add_argument("--results", type=Path, default=None)
    p.add_argument("--force", action="store_true", help="measure configurations again")
    p.add_argument("--table", action="store_true", help="only print the table")
    p.add_argument("--cpu", default=None,
                   help="table of the runs on this CPU model only (default: this machine's)")
    p.add_argument("--session", default=None,
                   help="with --table: the rank runs of this session only ('latest': the last)")
    p.add_argument("--prepare", action="store_true",
                   help="only write the inputs (targets, ESM pool, hubs and packs) for --m/--n")
    args = p.parse_args(argv)
    if args.quick:
        args.m, args.n, args.targets, args.gpu_m = [20], [200], ["c2", "reg"], 2000
        args.work = args.work.with_name("work-quick")
    args.work = args.work.resolve()  # child processes run in other folders
    args.results = args.results or (args.work / "results.jsonl" if args.quick else RESULTS)
    return args


def machine() -> dict:
    import numpy
    import scipy
    import torch

    info = {"python": platform.python_version(), "platform": platform.platform(),
            "cpus": len(os.sched_getaffinity(0)), "torch": torch.__version__,
            "numpy": numpy.__version__, "scipy": scipy.__version__,
            "load_average": os.getloadavg()}
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            info["cpu"] = line.split(":", 1)[1].strip()
            break
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            info["memory_gb"] = round(int(line.split()[1]) / (1 << 20), 1)
    info["gpu"] = torch.cuda.get_device_name() if torch.cuda.is_available() else None
    from machine_info import blas_info

    info["blas"] = blas_info()
    info["openblas_coretype"] = os.environ.get("OPENBLAS_CORETYPE")
    try:
        info["stepstone_commit"] = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
            text=True, check=True).stdout.strip()
        changed = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "src"],
                                 capture_output=True, text=True, check=True).stdout.strip()
        if changed:  # measured code that is not the commit's
            info["stepstone_commit"] += "+uncommitted"
    except (OSError, subprocess.CalledProcessError):
        info["stepstone_commit"] = None
    return info


def mem_available() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable"):
            return int(line.split()[1]) * 1024
    return 0


def run_measured(cmd: list[str], *, env: dict, timeout: int, log: Path) -> dict:
    """Run a fresh process (in the log's folder: hfselect writes a log file into its working
    directory); wall time and peak RSS (ru_maxrss of the child) measured from outside."""
    with open(log, "w") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, cwd=log.parent)
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill)
        timer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        timer.cancel()
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    result = {"wall_s": wall, "maxrss_mb": usage.ru_maxrss / 1024, "returncode": proc.returncode}
    if killed.is_set():
        result["status"] = "timeout"
    elif proc.returncode != 0:
        result["status"] = "error"
        result["log_tail"] = log.read_text(errors="replace")[-2000:]
    else:
        result["status"] = "ok"
    return result


def run_stepstone(work: Path, hub: Path, target: Path, regression: bool, m: int) -> dict:
    out = work / "runs" / f"stepstone-{hub.name}-{target.stem}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "STEPSTONE_NO_PROGRESS": "1"}
    with tempfile.TemporaryDirectory() as cache:  # cold: no cached embeddings
        env["STEPSTONE_CACHE"] = cache
        cmd = [sys.executable, "-m", "stepstone", "rank", str(target), "--hub", str(hub),
               "--text-column", "text", "--label-column", "label", "--task-type",
               "regression" if regression else "classification", "--format", "json", "-o",
               str(out), "-q"]
        result = run_measured(cmd, env=env, timeout=600, log=out.with_suffix(".log"))
    if result["status"] == "ok":
        ranking = json.loads(out.read_text())
        timings = ranking["timings"]
        result.update(phases=timings, embed_s=timings["embed"],
                      per_esm_ms=1e3 * timings["score"] / m,
                      scores={s["esm_id"]: s["score"] for s in ranking["sources"]})
    return result


def run_hfselect(work: Path, hf_python: str, target: Path, regression: bool, m: int,
                 timeout: int) -> dict:
    job_path = work / "runs" / f"hfselect-m{m}-{target.stem}.job.json"
    job_path.parent.mkdir(parents=True, exist_ok=True)
    out = job_path.with_name(job_path.name.replace(".job.json", ".json"))
    job = {"esms": [str(work / "pool" / i) for i in esm_ids(m)], "model": model_path(),
           "model_name": MODEL, "target": str(target), "regression": regression, "out": str(out)}
    job_path.write_text(json.dumps(job))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "HF_DATASETS_OFFLINE": "1", "TQDM_DISABLE": "1"}
    env.pop("PYTHONPATH", None)
    cmd = [hf_python, str(HERE / "hfselect_runner.py"), "rank", str(job_path)]
    result = run_measured(cmd, env=env, timeout=timeout, log=out.with_suffix(".log"))
    if result["status"] == "ok":
        data = json.loads(out.read_text())
        ph = data["phases"]
        embed = ph["load_model"] + ph.get("tokenize", 0) + ph.get("forward", 0)
        scoring = ph["compute_scores"] - ph.get("tokenize", 0) - ph.get("forward", 0)
        result.update(phases=ph, embed_s=embed, per_esm_ms=1e3 * scoring / m,
                      scores=dict(zip(esm_ids(m), data["scores"])),
                      hfselect_version=data["hfselect_version"])
    return result


def hfselect_estimate_gb(m: int, n: int) -> float:
    """hfselect's peak memory: ~1.3 GB + per ESM its float32 module and mapped features."""
    return 1.3 + m * (0.6e-3 + 1.7e-3 * n / 1000)


class Results:
    def __init__(self, path: Path, session: dict, force: bool) -> None:
        self.path, self.session, self.force = path, session, force
        self.records = [json.loads(x) for x in path.read_text().splitlines() if x.strip()] \
            if path.is_file() else []

    def done(self, **key) -> bool:
        """Measured already on this CPU model (an error is measured again)."""
        cpu = self.session["machine"].get("cpu")
        return not self.force and any(r.get("status") != "error" and
                                      r.get("machine", {}).get("cpu") == cpu and
                                      all(r.get(k) == v for k, v in key.items())
                                      for r in self.records)

    def add(self, record: dict) -> None:
        record = {**record, "session": self.session["id"], "date": self.session["date"],
                  "machine": self.session["machine"]}
        self.records.append(record)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as handle:
            handle.write(json.dumps(record) + "\n")


def rank_section(args, results: Results, hf_python: str | None) -> None:
    for m in args.m:
        for n in args.n:
            for key in args.targets:
                spec = TARGETS[key]
                target = target_file(args.work, spec, n)
                hub = None  # made on first use: it also writes the pool hfselect reads
                for repeat in range(args.repeats):
                    for tool in args.tools:
                        ident = dict(section="rank", tool=tool, m=m, n=n, target=key,
                                     repeat=repeat)
                        if results.done(**ident):
                            continue
                        print(f"[rank] {tool} M={m} N={n} {key} #{repeat + 1}", flush=True)
                        hub = hub or ensure_hub(args.work, m)
                        if tool == "stepstone":
                            rec = run_stepstone(args.work, hub, target, spec.regression, m)
                        else:
                            rec = _hfselect_or_skip(args, hf_python, target, spec, m, n)
                        scores = rec.pop("scores", None)
                        if scores is not None:
                            _save_scores(args.work, tool, m, n, key, scores)
                        results.add({**ident, **rec})
                        _print_rec(rec)


def _hfselect_or_skip(args, hf_python, target, spec, m: int, n: int) -> dict:
    need = hfselect_estimate_gb(m, n)
    if m > args.hfselect_max_m:
        return {"status": "skipped", "reason": f"M > --hfselect-max-m {args.hfselect_max_m}"}
    if need * GB > 0.85 * mem_available():
        return {"status": "skipped", "reason": f"needs ~{need:.0f} GB, "
                                               f"{mem_available() / GB:.0f} GB available"}
    return run_hfselect(args.work, hf_python, target, spec.regression, m, args.hfselect_timeout)


def _save_scores(work: Path, tool: str, m: int, n: int, key: str, scores: dict) -> None:
    path = work / "scores" / f"{tool}-m{m}-n{n}-{key}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(scores))


def _print_rec(rec: dict) -> None:
    keys = ("status", "wall_s", "per_esm_ms", "embed_s", "maxrss_mb", "reason")
    print("   ", {k: round(v, 2) if isinstance(v, float) else v for k, v in rec.items()
                  if k in keys}, flush=True)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.table:
        from machine_info import cpu_model

        print(render_table(args.results, args.work, cpu=args.cpu or cpu_model(),
                           session=args.session))
        return
    session = {"id": datetime.now().strftime("%Y%m%d-%H%M%S"),
               "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "machine": machine()}
    if args.prepare:
        for key in args.targets:
            for n in args.n:
                target_file(args.work, TARGETS[key], n)
        for m in args.m:
            ensure_hub(args.work, m)
        return
    results = Results(args.results, session, args.force)
    print(f"session {session['id']}: {json.dumps(session['machine'])}", flush=True)
    hf_python = None
    if "hfselect" in args.tools and ("rank" in args.sections or "check" in args.sections):
        from hfselect_env import hfselect_python

        hf_python = str(hfselect_python())
    if "rank" in args.sections:
        rank_section(args, results, hf_python)
    import bench_sections as sections

    n0 = min(args.n)
    extra = {"check": lambda: sections.check(args.work, hf_python, n=n0,
                                             esms=5 if args.quick else sections.CHECK_ESMS),
             "fit": lambda: sections.fit(n=10_000 if not args.quick else 2_000),
             "encoder": lambda: sections.encoder(args.work, n=n0),
             "gpu": lambda: sections.gpu(args.work, m=args.gpu_m, n=n0)}
    for name, measure in extra.items():
        if name not in args.sections or results.done(section=name):
            continue
        if name == "check" and hf_python is None:
            continue
        print(f"[{name}]", flush=True)
        for rec in measure():
            results.add(rec)
            print("   ", rec, flush=True)
    print(render_table(args.results, args.work, cpu=session["machine"].get("cpu")))


if __name__ == "__main__":
    main()
