"""Who benefits from intermediate training: per target, how many sources help and by how much.

Whether intermediate training pays depends strongly on the target (Choshen et al. 2023 split the
gain into a target factor and a model factor), so the report lists, per target, the share of
sources that help, the share that help by more than the fine-tuning noise, the best gain and the
baseline's own score, and says across targets whether the room a target leaves (a low baseline)
goes with more helpful sources, with an interval.

"Helps clearly": the source's mean over seeds is above the baseline's by more than 1.645
standard errors of the difference (one-sided 95 %, the seeds' spread of both cells, Welch's
standard error). With three seeds per cell this is a rough screen, not a test per source: it is
reported as a share per target, where single false calls average out.
"""

from __future__ import annotations


import numpy as np
import pandas as pd

from ..data.loaders import pool_task_meta
from .uncertainty import TargetTruth

#: one-sided 95 % normal quantile
Z_ONE_SIDED = 1.645


def clearly_helps(seeds: np.ndarray, baseline: np.ndarray, *, z: float = Z_ONE_SIDED
                  ) -> np.ndarray:
    """Per source: mean gain over the baseline above ``z`` Welch standard errors.

    Shapes: seeds (S, n) with NaN for missing seeds, baseline (n_b,); returns (S,) booleans
    (False where a source or the baseline has fewer than two seeds: no spread to judge by).
    """
    counts = np.sum(np.isfinite(seeds), axis=1)
    means = np.where(np.isfinite(seeds), seeds, 0.0).sum(axis=1) / np.maximum(counts, 1)
    ok = counts >= 2
    var = np.zeros(len(seeds))
    var[ok] = np.nanvar(seeds[ok], axis=1, ddof=1)
    base = baseline[np.isfinite(baseline)]
    if len(base) < 2:
        return np.zeros(len(seeds), bool)
    se = np.sqrt(var / np.maximum(counts, 1) + np.var(base, ddof=1) / len(base))
    return ok & (means - base.mean() > z * se)


def who_benefits(truths: list[TargetTruth], task_types: dict[str, str]) -> pd.DataFrame:
    """One row per target: type, pair or single text, baseline score (points), sources, share
    of sources above the baseline, share clearly above, best gain (points) and its source."""
    rows = []
    for truth in truths:
        means, base = truth.means()
        gains = (means - base) * 100.0
        finite = np.isfinite(gains)
        best = int(np.nanargmax(np.where(finite, gains, -np.inf))) if finite.any() else None
        rows.append({
            "target": truth.name, "type": task_types.get(truth.name, "?"),
            "pair": _is_pair(truth.name), "baseline": base * 100.0,
            "sources": int(finite.sum()),
            "share_helping": float(np.mean(gains[finite] > 0)) if finite.any() else np.nan,
            "share_clearly_helping": float(np.mean(
                clearly_helps(truth.seeds, truth.baseline)[finite])) if finite.any() else np.nan,
            "best_gain": float(gains[best]) if best is not None else np.nan,
            "best_source": truth.sources[best] if best is not None else None,
        })
    return pd.DataFrame(rows).sort_values("baseline", kind="stable").reset_index(drop=True)


def benefit_by_kind(table: pd.DataFrame) -> pd.DataFrame:
    """Mean share helping and best gain by task type and by pair/single text."""
    frames = []
    for column in ("type", "pair"):
        grouped = table.groupby(column)[["share_helping", "share_clearly_helping", "best_gain",
                                         "baseline"]].mean()
        grouped.insert(0, "targets", table.groupby(column).size())
        grouped.index = [f"{column}: {value}" for value in grouped.index]
        frames.append(grouped)
    return pd.concat(frames).rename_axis("group").reset_index()


def baseline_association(table: pd.DataFrame, *, replicates: int = 2000, level: float = 0.9,
                         seed: int = 0) -> dict[str, float]:
    """Spearman correlation across targets between the baseline score and the share of
    sources helping, with a bootstrap interval over targets (negative: targets with a lower
    baseline are helped by more sources). Scores of classification and regression targets are
    on different scales, so this reads as a rough trend, stated with its interval."""
    from scipy import stats

    data = table[["baseline", "share_helping"]].dropna().to_numpy(float)
    if len(data) < 4:
        return {"targets": len(data), "spearman": np.nan, "low": np.nan, "high": np.nan}
    point = float(stats.spearmanr(data[:, 0], data[:, 1]).statistic)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(data), size=(replicates, len(data)))
    values = []
    for rows in draws:
        a, b = data[rows, 0], data[rows, 1]
        if np.ptp(a) > 0 and np.ptp(b) > 0:
            values.append(stats.spearmanr(a, b).statistic)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail]) if values else (np.nan, np.nan)
    return {"targets": len(data), "spearman": point, "low": float(low), "high": float(high)}


def _is_pair(name: str) -> bool | None:
    """Whether a pool task's examples are sentence pairs (its ``task.json``); None if unknown."""
    meta = pool_task_meta(name)
    return bool(meta.get("is_pair", False)) if meta is not None else None
