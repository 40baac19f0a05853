"""Markdown tables from compare_hfselect.py's results file (medians over repeats)."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from statistics import median

import numpy as np

TARGET_LABELS = {"c2": "C=2", "c6": "C=6", "reg": "reg."}


def _load(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def _med(records: list[dict], key: str) -> float | None:
    values = [r[key] for r in records if r.get("status") == "ok" and r.get(key) is not None]
    return median(values) if values else None


def _fmt(x: float | None, digits: int = 1) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _ratio(ours: float | None, theirs: float | None) -> str:
    return "–" if ours is None or not theirs else f"{ours / theirs:.3f}"


def _score_diff(work: Path, m: int, n: int, target: str) -> str:
    paths = [work / "scores" / f"{tool}-m{m}-n{n}-{target}.json"
             for tool in ("stepstone", "hfselect")]
    if not all(p.is_file() for p in paths):
        return "–"
    ours, theirs = (json.loads(p.read_text()) for p in paths)
    common = sorted(set(ours) & set(theirs))
    a = np.array([ours[i] for i in common])
    b = np.array([theirs[i] for i in common])
    return f"{np.max(np.abs(a - b) / np.abs(b)):.1e}"


def rank_rows(records: list[dict], work: Path) -> tuple[list[str], dict]:
    groups: dict[tuple, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        if r.get("section") == "rank":
            groups[(r["m"], r["n"], r["target"])][r["tool"]].append(r)
    lines = ["| M | N | target | per-ESM ms hfselect / stepstone (ratio) | embedding s "
             "(ratio) | end to end s (ratio) | peak RSS MB | max rel. score diff |",
             "|---|---|---|---|---|---|---|---|"]
    medians = {}
    for (m, n, target), tools in sorted(groups.items()):
        hf, st = tools.get("hfselect", []), tools.get("stepstone", [])
        row = {tool: {k: _med(rs, k) for k in ("per_esm_ms", "embed_s", "wall_s", "maxrss_mb")}
               for tool, rs in (("hfselect", hf), ("stepstone", st))}
        medians[(m, n, target)] = row
        h, s = row["hfselect"], row["stepstone"]
        note = ""
        if hf and not h["wall_s"]:
            why = hf[-1].get("reason") or hf[-1].get("status")
            note = f" (hfselect {why})"
        sessions = {r["session"] for r in hf + st if r.get("status") == "ok"}
        mark = " †" if len(sessions) > 1 else ""
        lines.append(
            f"| {m:,} | {n:,} | {TARGET_LABELS.get(target, target)}{mark} | "
            f"{_fmt(h['per_esm_ms'])} / {_fmt(s['per_esm_ms'], 2)} "
            f"({_ratio(s['per_esm_ms'], h['per_esm_ms'])}){note} | "
            f"{_fmt(h['embed_s'])} / {_fmt(s['embed_s'])} ({_ratio(s['embed_s'], h['embed_s'])})"
            f" | {_fmt(h['wall_s'])} / {_fmt(s['wall_s'])} ({_ratio(s['wall_s'], h['wall_s'])})"
            f" | {_fmt(h['maxrss_mb'], 0)} / {_fmt(s['maxrss_mb'], 0)} | "
            f"{_score_diff(work, m, n, target)} |")
    return lines, medians


def goals(medians: dict, records: list[dict]) -> list[str]:
    out = ["", "| goal | measured | met |", "|---|---|---|"]

    def add(goal: str, value: float | None, limit: float, unit: str = "") -> None:
        met = "–" if value is None else ("yes" if value <= limit else "**no**")
        out.append(f"| {goal} | {_fmt(value, 3)}{unit} | {met} |")

    for target in ("c2", "c6", "reg"):
        row = medians.get((1000, 1000, target))
        if row:
            h, s = row["hfselect"], row["stepstone"]
            add(f"per-ESM time / hfselect's, M=1,000 N=1,000 {TARGET_LABELS[target]} (≤ 0.1)",
                s["per_esm_ms"] / h["per_esm_ms"] if h["per_esm_ms"] and s["per_esm_ms"]
                else None, 0.1)
            add(f"cold `rank` end to end / hfselect's, M=1,000 {TARGET_LABELS[target]} (≤ 0.15)",
                s["wall_s"] / h["wall_s"] if h["wall_s"] and s["wall_s"] else None, 0.15)
    for (m, n, target), row in sorted(medians.items()):
        small = medians.get((m, 1000, target))
        if n == 10000 and small and small["stepstone"]["per_esm_ms"]:
            add(f"per-ESM time N=10,000 / N=1,000, M={m:,} {TARGET_LABELS[target]} (≤ 1.2)",
                (row["stepstone"]["per_esm_ms"] or np.nan) / small["stepstone"]["per_esm_ms"],
                1.2)
    rss = [row["stepstone"]["maxrss_mb"] for (m, _, _), row in medians.items()
           if m == 10000 and row["stepstone"]["maxrss_mb"]]
    if rss:
        add("peak RSS of `rank`, M=10,000 (≤ 1.5 GB)", max(rss) / 1024, 1.5, " GB")
    fits = [r for r in records if r.get("section") == "fit"]
    if fits:
        add(f"closed-form ESM fit, {fits[-1]['pairs']:,} x {fits[-1]['dim']} pairs (≤ 1 s)",
            fits[-1]["seconds"], 1.0, " s")
    return out


def extra_tables(records: list[dict]) -> list[str]:
    out = []
    checks = [r for r in records if r.get("section") == "check"]
    if checks:
        out += ["", "Scores on identical features (largest relative differences over the ESMs; "
                "the naive evidence for the first two):", "",
                "| features | N | ESMs | hfselect's rank k (D=384) | vs naive evidence | "
                "vs hfselect | vs hfselect + (D−k)·log α term | same, hfselect's float32 mapping | "
                "hfselect − stepstone (mean) | span of scores | same order |",
                "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in checks:
            ranks = f"{r['hfselect_rank_min']}" if r["hfselect_rank_min"] == \
                r["hfselect_rank_max"] else f"{r['hfselect_rank_min']}–{r['hfselect_rank_max']}"
            out.append(f"| {r['case']} | {r['n']:,} | {r['esms']} | {ranks} | "
                       f"{r['max_rel_vs_naive']:.1e} | "
                       f"{r['max_rel_vs_hfselect']:.1e} | "
                       f"{r['max_rel_vs_hfselect_corrected']:.1e} | "
                       f"{r['max_rel_vs_hfselect_float32_pipeline_corrected']:.1e} | "
                       f"{r['mean_shift_hfselect_minus_ours']:+.4f} | "
                       f"{r['score_span_ours']:.4f} | "
                       f"{'yes' if r['same_order_as_hfselect'] else 'no'} |")
    for r in records:
        if r.get("section") == "encoder":
            out += ["", f"Encoder, {r['n']:,} tweets ({r['threads']} threads): float32 "
                    f"{r['seconds_float32']:.1f} s, bfloat16 autocast {r['seconds_bfloat16']:.1f} s"
                    f" ({r['seconds_float32'] / r['seconds_bfloat16']:.2f}x), lowest cosine to "
                    f"float32 {r['min_cosine_bfloat16']:.6f}."]
        if r.get("section") == "gpu":
            out += ["", (f"GPU ({r['device']}): {r['m']:,} synthetic ESMs, N={r['n']:,}: "
                         f"{r['seconds']:.1f} s ({r['per_esm_ms']:.3f} ms per ESM), largest "
                         f"relative difference to the CPU path {r['max_rel_vs_cpu']:.1e}.")
                    if r.get("status") == "ok" else f"GPU: {r.get('reason')}."]
    return out


def _blas(machine: dict) -> str:
    libs = machine.get("blas")
    if not libs:
        return "not recorded"
    kernels = sorted({f"{b['internal_api']} {b['version']} {b['architecture']}" for b in libs})
    return ", ".join(kernels)


def render_table(path: Path, work: Path, *, cpu: str | None = None,
                 session: str | None = None) -> str:
    """The tables of ``path``'s records (only those measured on CPU model ``cpu``, if given:
    machines differ, and figures of two machines must not be mixed). ``session`` keeps the
    ``rank`` records of that session only (``latest``: the last session that ran ``rank``), so
    that both tools' figures come from one run; the other sections keep all their records."""
    records = [r for r in _load(path) if cpu is None or r.get("machine", {}).get("cpu") == cpu]
    if session == "latest":
        ranked = [r["session"] for r in records if r.get("section") == "rank"]
        session = ranked[-1] if ranked else None
    if session:
        records = [r for r in records if r.get("section") != "rank" or r["session"] == session]
    if not records:
        return f"no results in {path}" + (f" for CPU {cpu!r}" if cpu else "")
    last = records[-1]
    m = last["machine"]
    head = [f"Machine: {m.get('cpu')}, {m.get('cpus')} cores, {m.get('memory_gb')} GB, "
            f"torch {m.get('torch')}, numpy {m.get('numpy')}, scipy {m.get('scipy')}; "
            f"BLAS {_blas(m)}; GPU {m.get('gpu') or 'none'}; "
            f"stepstone {m.get('stepstone_commit')}; last run "
            f"{last['date']} (session {last['session']}).", ""]
    lines, medians = rank_rows(records, work)
    foot = ["", "Medians over repeats; ratios are stepstone / hfselect; † = the two tools' "
            "figures come from different sessions. Embedding includes model loading; per-ESM "
            "time is everything after the forward passes (hfselect: mapping + LogME; stepstone: "
            "reading the pack + scoring), divided by M; end to end is the whole process, cold "
            "(no cached embeddings)."]
    return "\n".join(head + lines + foot + goals(medians, records) + extra_tables(records))
