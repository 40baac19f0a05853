"""How sure a ranking is: rank the leading sources again on resamples of the target.

A ranking is computed from one sample of the target's examples; another sample of the same
size would move scores that differ in the third decimal. Here the target is resampled
``resamples`` times (seeded) and the ``leading`` sources (the top of the full-sample ranking)
are scored again on each draw. The target is embedded once: a resample is a selection or
re-weighting of its rows, and only the leading sources are re-scored (a hub of 10,000 ESMs
pays for 8 of them, not for all).

ESM-LogME uses the first-order bootstrap (:mod:`stepstone.scores.logme_influence`): rows drawn
with replacement, one influence vector per leading ESM, then each draw is a weighted sum over
the examples, so 100 resamples cost about as much as scoring 20 ESMs twice. Other methods are
re-scored exactly (``stability="on"`` only: it costs ``resamples`` rankings of the leading
sources) on **half-samples** drawn without replacement (:func:`half_sample_rows`), re-centred on
the full-sample scores. Not on rows drawn with replacement: a duplicated row looks easy to fit,
and exact re-scoring of ESM-LogME on such draws spread about 200x wider than independent
samples of the target (everything tied); on half-samples it behaves like the first-order
bootstrap. Both were checked against disjoint samples of six real targets
(``benchmarks/stability_calibration.py``, README "Reading the output"): the first-order
bootstrap's intervals are ~1.2x as wide as the spread between samples, and 7 of its 285 "ahead
of" claims did not hold on the other samples' mean, all on one target.

Per leading source the result holds the share of resamples in which it came first, a rank
interval (the 5-95 % percentiles of its rank among the leading sources) and whether it is
**tied with the first**: the full-sample first scores above it in fewer than ``TIE_LEVEL``
(95 %) of the resamples, a paired one-sided bootstrap test at the 5 % level. Sources tied with
the first cannot be told apart from it at this sample size.

The math (:func:`summarise`) is pure numpy over an (R, K) score matrix; :func:`stability` drives
it for a :class:`~stepstone.rank.methods.RankContext`.
"""

from __future__ import annotations

import logging
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from .._options import Option
from ..errors import InvalidOptionError, ScoreError

if TYPE_CHECKING:  # pragma: no cover
    from ..hub.catalog import HubEntry
    from .methods import RankContext

logger = logging.getLogger(__name__)

#: resamples by default: the tie decision at 95 % needs about 100 to be stable to a few %
DEFAULT_RESAMPLES = 100
#: sources re-scored on every resample (the top of the full-sample ranking): 8 keeps the cost
#: within half of a re-ranking of a cached target on the bundled hub
#: (benchmarks/stability_cost.py; 10 measured 0.54x on a busy 2-core machine)
DEFAULT_LEADING = 8
#: a source is separable from the first when the first beats it in at least this share
TIE_LEVEL = 0.95
#: the rank interval's coverage (5-95 % percentiles)
RANK_LEVEL = 0.9
#: methods with a fast path here (the target's statistics per resample, maps loaded once)
FAST_METHODS = ("esm-logme",)


class StabilityMode(Option):
    """When to compute stability: ``auto`` (methods with a fast path), ``on`` (any method:
    the fast path where there is one), ``exact`` (any method, always re-scored on half-samples:
    slower, and how the fast path is checked, ``benchmarks/stability_calibration.py``),
    ``off``."""

    AUTO = "auto"
    ON = "on"
    EXACT = "exact"
    OFF = "off"


@dataclass(frozen=True)
class SourceStability:
    """One leading source under resampling (ranks are among the leading sources)."""

    esm_id: str
    task_name: str
    rank: int  # on the full sample
    share_first: float  # share of resamples in which it scored highest (ties split)
    rank_low: int
    rank_high: int
    #: share of resamples in which the full-sample first scored strictly above it (None for
    #: the first itself)
    first_ahead: float | None
    tied_with_first: bool
    #: the 5-95 % interval of its score over the resamples, relative to the leading sources in
    #: the same resample (the common shift taken out), around its score: the plot's error bars
    score_low: float | None = None
    score_high: float | None = None


@dataclass
class Stability:
    """The ranking's stability over resamples of the target (``Ranking.stability``)."""

    resamples: int
    leading: int
    seed: int
    tie_level: float = TIE_LEVEL
    rank_level: float = RANK_LEVEL
    sources: list[SourceStability] = field(default_factory=list)
    seconds: float = 0.0
    #: (R, K) the leading sources' scores in each resample, in rank order: what the fields
    #: above summarise, for the caller's own analysis; not saved (to_dict leaves it out)
    resampled: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def tied(self) -> list[str]:
        """Task names of the first and every source tied with it, in full-sample rank order."""
        return [s.task_name for s in self.sources if s.tied_with_first]

    def by_id(self) -> dict[str, SourceStability]:
        return {s.esm_id: s for s in self.sources}

    def describe(self) -> str:
        """One line: how many sources are tied at the top, and on what evidence."""
        tied = self.tied
        if len(tied) == self.leading:
            head = f"all {self.leading} leading sources are tied at the top"
        elif len(tied) > 1:
            head = f"{len(tied)} sources tied at the top ({', '.join(tied)})"
        else:
            head = f"{tied[0]} is ahead of the others" if tied else "no stability"
        return (f"{head}: rank 1 is not ahead of a tied source in {self.tie_level:.0%} of "
                f"{self.resamples} resamples of the target's examples (top {self.leading} "
                "re-scored)")

    def legend(self) -> str:
        """What the table's stability columns mean."""
        return (f"Stability over {self.resamples} resamples of the target: 1st = share in "
                f"which the source scored highest; ranks = its {self.rank_level:.0%} rank "
                f"interval among the top {self.leading}; '=' = tied with rank 1 (rank 1 is "
                f"ahead of it in fewer than {self.tie_level:.0%} of the resamples)")

    def to_dict(self) -> dict[str, Any]:
        kept = {k: v for k, v in asdict(replace(self, resampled=None)).items()
                if k != "resampled"}
        return {**kept, "tied": self.tied}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Stability:
        body = {k: v for k, v in data.items() if k not in ("tied", "sources")}
        return cls(**body, sources=[SourceStability(**s) for s in data.get("sources", [])])


#: the table's stability columns (:func:`table_cells`)
TABLE_HEAD = f"{'1st':>4}  {'ranks':>5}  {'':1}"


def table_cells(result: Stability | None, esm_id: str) -> str:
    """The table's stability cells of one source: share first, rank interval, '=' when tied
    with rank 1 (blank for a source outside the re-scored top)."""
    row = result.by_id().get(esm_id) if result is not None else None
    if row is None:
        return f"{'':>4}  {'':>5}  {'':1}"
    ranks = (f"{row.rank_low}" if row.rank_low == row.rank_high
             else f"{row.rank_low}-{row.rank_high}")
    return f"{row.share_first:>4.0%}  {ranks:>5}  {'=' if row.tied_with_first else '':1}"


def summarise(scores: np.ndarray, *, tie_level: float = TIE_LEVEL,
              rank_level: float = RANK_LEVEL) -> dict[str, np.ndarray]:
    """Per-source stability from resampled scores.

    Shapes: scores (R, K), column 0 the full-sample first, columns in full-sample rank order;
    NaN (a failed score) counts as the lowest. Returns (K,) arrays ``share_first``,
    ``rank_low``, ``rank_high``, ``first_ahead`` (NaN for column 0) and ``tied`` (bool).
    A rank is 1 + the number of sources strictly above (equal scores share a rank).
    """
    s = np.where(np.isfinite(scores), scores, -np.inf)
    ranks = 1 + np.sum(s[:, None, :] > s[:, :, None], axis=2)  # (R, K)
    top = s == s.max(axis=1, keepdims=True)
    share_first = (top / top.sum(axis=1, keepdims=True)).mean(axis=0)
    tail = (1 - rank_level) / 2
    low = np.floor(np.quantile(ranks, tail, axis=0)).astype(int)
    high = np.ceil(np.quantile(ranks, 1 - tail, axis=0)).astype(int)
    ahead = (s[:, :1] > s).mean(axis=0)
    ahead[0] = np.nan
    tied = ahead < tie_level
    tied[0] = True
    # the score interval without the shift that moves every score with the sample: relative to
    # the leading sources' mean in the same resample, centred on the source's mean score, so
    # that overlapping intervals are sources this sample cannot tell apart
    finite = np.where(np.isfinite(scores), scores, np.nan)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column stays NaN
        relative = finite - np.nanmean(finite, axis=1, keepdims=True)
        centre = np.nanmean(finite, axis=0)
        score_low, score_high = centre + np.nanquantile(
            relative - np.nanmean(relative, axis=0), [tail, 1 - tail], axis=0)
    return {"share_first": share_first, "rank_low": low, "rank_high": high,
            "first_ahead": ahead, "tied": tied, "score_low": score_low,
            "score_high": score_high}


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def bootstrap_rows(n: int, resamples: int, seed: int) -> np.ndarray:
    """(R, N) row indices drawn with replacement (seeded)."""
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def half_sample_rows(n: int, resamples: int, seed: int) -> np.ndarray:
    """(R, N // 2) row indices, each row a half of the target drawn without replacement
    (seeded). For a smooth score the deviation of a half-sample's score from the full sample's
    has the variance of the full sample's own sampling error (1/(n/2) - 1/n = 1/n: the
    delete-n/2 jackknife), and no row is duplicated, which a score that rewards fitting
    the sample (LogME, kNN, leave-one-out errors) would take for signal."""
    rng = np.random.default_rng(seed)
    return np.stack([rng.permutation(n)[:n // 2] for _ in range(resamples)])


def stability(ctx: RankContext, method: str, ranked: list[tuple[str, str, float]], *,
              resamples: int = DEFAULT_RESAMPLES, leading: int = DEFAULT_LEADING,
              seed: int = 0, exact: bool = False) -> Stability | None:
    """Re-score the first ``leading`` of ``ranked`` ((esm id, task name, score) in rank order)
    on ``resamples`` bootstrap draws of the target; None when fewer than two sources.
    ``exact``: re-score half-samples even where the method has a fast path."""
    if resamples < 1 or leading < 2:
        raise InvalidOptionError(f"stability needs resamples >= 1 and leading >= 2, got "
                                 f"{resamples} and {leading}")
    top = ranked[:leading]
    if len(top) < 2:
        return None
    started = time.perf_counter()
    by_id = {e.id: e for e in ctx.entries}
    entries = [by_id[i] for i, _, _ in top]
    full = np.array([score for _, _, score in top])
    if method in FAST_METHODS and not exact:
        draws = bootstrap_rows(len(ctx.task), resamples, seed)
        scores = _linearised_scores(ctx, entries, full, draws)
    else:  # exact re-scoring of half-samples, re-centred: see _generic_scores
        draws = half_sample_rows(len(ctx.task), resamples, seed)
        scores = _generic_scores(ctx, method, entries, draws)
        scores = scores - np.nanmean(scores, axis=0) + full
    parts = summarise(scores)
    rows = [SourceStability(esm_id=esm_id, task_name=name, rank=i + 1,
                            share_first=float(parts["share_first"][i]),
                            rank_low=int(parts["rank_low"][i]),
                            rank_high=int(parts["rank_high"][i]),
                            first_ahead=None if i == 0 else float(parts["first_ahead"][i]),
                            tied_with_first=bool(parts["tied"][i]),
                            score_low=_finite(parts["score_low"][i]),
                            score_high=_finite(parts["score_high"][i]))
            for i, (esm_id, name, _) in enumerate(top)]
    return Stability(resamples=resamples, leading=len(top), seed=seed, sources=rows,
                     seconds=time.perf_counter() - started, resampled=scores)


def linearised_esm_logme(features: np.ndarray, labels: np.ndarray, maps: np.ndarray,
                         full: np.ndarray, draws: np.ndarray, *,
                         regression: bool = False) -> np.ndarray:
    """ESM-LogME of K maps on R bootstrap draws, to first order
    (:mod:`stepstone.scores.logme_influence`): one influence vector per map (an O(D³)
    eigen-solve and one (N, D) product), then each draw is a weighted sum over the examples.

    Shapes: features (N, D), labels (N,) or (N, K'), maps (K, D+1, D), full (K,) the
    full-sample scores, draws (R, N) row indices -> (R, K); NaN where a map fails.
    """
    from ..scores.esm_logme._blas import single_threaded_blas
    from ..scores.esm_logme.scorer import default_workers
    from ..scores.esm_logme import TargetStats
    from ..scores.logme_influence import esm_logme_influence, resampled_logme

    features = np.asarray(features, dtype=np.float64)
    f_aug = np.hstack([features, np.ones((len(features), 1))])
    out = np.full((len(draws), len(maps)), np.nan)

    def one(k: int) -> None:
        try:
            psi = esm_logme_influence(stats, f_aug, np.asarray(maps[k], dtype=np.float64),
                                      labels, regression=regression)
        except (ScoreError, np.linalg.LinAlgError) as err:
            logger.debug("stability of map %d failed: %s", k, err)
            return
        out[:, k] = resampled_logme(full[k], psi, draws)

    # one BLAS thread per worker, maps spread over the workers (as the ranking's scorer does):
    # threaded BLAS on these mid-sized products was ~15x slower on a busy 2-core machine
    with single_threaded_blas():
        stats = TargetStats.from_features(features, labels, regression=regression)
        with ThreadPoolExecutor(min(default_workers(), max(len(maps), 1))) as pool:
            list(pool.map(one, range(len(maps))))
    return out


def _linearised_scores(ctx: RankContext, entries: list[HubEntry], full: np.ndarray,
                       draws: np.ndarray) -> np.ndarray:
    """:func:`linearised_esm_logme` for the leading entries (their maps read once)."""
    skipped: dict[str, str] = {}
    blocks = list(_restricted(ctx, entries).esm_blocks(skipped=skipped))
    read = [e.id for block, _ in blocks for e in block]
    maps = np.concatenate([m for _, m in blocks]) if blocks else np.empty((0,))
    by_id = {e.id: score for e, score in zip(entries, full)}
    scores = linearised_esm_logme(ctx.features, ctx.task.labels, maps,
                                  np.array([by_id[i] for i in read]), draws,
                                  regression=ctx.task.is_regression)
    out = np.full((len(draws), len(entries)), np.nan)
    column = {esm_id: k for k, esm_id in enumerate(read)}
    for k, entry in enumerate(entries):
        if entry.id in column:
            out[:, k] = scores[:, column[entry.id]]
    return out


def _generic_scores(ctx: RankContext, method: str, entries: list[HubEntry],
                    draws: np.ndarray) -> np.ndarray:
    """Any other method: run it on each half-sample of the target (:func:`half_sample_rows`),
    restricted to the leading sources. A score depends on the sample's size, so each source's
    score shifts by its own amount; the caller re-centres each column on the full-sample
    score: the spread, not the shift, is the sampling noise."""
    from .methods import get_method

    func = get_method(method)
    out = np.full((len(draws), len(entries)), np.nan)
    for r, rows in enumerate(draws):
        sub = _restricted(ctx, entries, rows)
        try:
            result = func(sub)
        except (ScoreError, np.linalg.LinAlgError) as err:
            logger.debug("stability resample %d failed: %s", r, err)
            continue
        out[r] = [result.scores.get(e.id, np.nan) for e in entries]
    return out


def _restricted(ctx: RankContext, entries: list[HubEntry],
                rows: np.ndarray | None = None) -> RankContext:
    """A context over ``entries`` (and the target's ``rows``), with no progress bars and the
    embeddings already there (a resample is a selection of rows: nothing is embedded again)."""
    from dataclasses import replace

    task = ctx.task if rows is None else ctx.task.subset(rows)
    sub = replace(ctx, task=task, entries=list(entries), show_progress=False)
    sub.__dict__["features"] = ctx.features if rows is None else ctx.features[rows]
    return sub


def ranking_stability(ctx: RankContext, method: str, ranked: list[tuple[str, str, float]], *,
                      mode: StabilityMode | str, resamples: int, leading: int,
                      seed: int) -> Stability | None:
    """:func:`stability` as ``rank_sources`` asks for it: ``auto`` runs it for the methods
    with a fast path only (the others re-run the whole method per resample: ask with ``on``)."""
    mode = StabilityMode.parse(mode)
    if mode is StabilityMode.OFF or resamples == 0:
        return None
    if mode is StabilityMode.AUTO and method not in FAST_METHODS:
        logger.info("no stability for %s by default (it re-runs the method per resample); "
                    "ask for it with stability='on'", method)
        return None
    return stability(ctx, method, ranked, resamples=resamples, leading=leading, seed=seed,
                     exact=mode is StabilityMode.EXACT)
