"""Methods that need more than one ESM at a time or statistics beyond the ESM:

- ``domain-divergence``: minus the Fréchet distance between a Gaussian fit of the target's base
  embeddings and each source's stored fit (label-free, like TextEmb; regression works too);
- ``esm-ped``: PED + LogME on the ESM-mapped target, standardised with the hub's reference
  statistics (the base embeddings of all the hub's sources, mapped through the same ESM).

Both read the Gaussian fits that ``stepstone hub add-domain-stats`` stores with each source's
statistics; a source without one is left out of ``domain-divergence`` with the reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ...errors import ScoreError
from ...hub.hub import Hub
from ...scores.divergence import GaussianFit, frechet_distance
from ...scores.ped import ped
from ...scores.registry import get_score
from ..context import MethodScores, RankContext
from ..registry import CLASSIFICATION, MethodInfo, Need, register

logger = logging.getLogger(__name__)

NO_DOMAIN_STATS = ("no domain statistics in the source's source_stats.safetensors; add them "
                   "with `stepstone hub add-domain-stats` (embeds the sources with the base "
                   "model, no fine-tuning)")


def domain_fit(hub: Hub, esm_id: str) -> GaussianFit | None:
    """The source's stored Gaussian fit, or None."""
    stats = hub.stats(esm_id)
    return GaussianFit.from_tensors(stats) if "domain_basis" in stats else None


def domain_divergence(ctx: RankContext) -> MethodScores:
    """−FD² between the target's and each source's base-embedding Gaussians (lower distance
    ranks first); after "Divergence-Based Domain Transferability"."""
    out = MethodScores()
    for entry in ctx.entries:
        fit = domain_fit(ctx.hub, entry.id)
        if fit is None:
            out.skipped[entry.id] = NO_DOMAIN_STATS
            continue
        try:
            out.add(entry.id, -frechet_distance(fit, ctx.features))
        except ScoreError as err:
            out.skipped[entry.id] = f"domain-divergence failed: {err}"
    return out


@dataclass(frozen=True)
class ReferenceSet:
    """Mean (D,) and covariance (D, D) of the pooled base embeddings of a hub's sources: the
    mixture of their Gaussian fits, each weighted by its number of examples."""

    mean: np.ndarray
    covariance: np.ndarray
    sources: int

    @classmethod
    def from_fits(cls, fits: list[GaussianFit]) -> ReferenceSet:
        weights = np.array([f.num_examples for f in fits], dtype=np.float64)
        weights /= weights.sum()
        means = np.stack([f.mean for f in fits])
        mean = weights @ means
        cov = sum(w * f.covariance() for w, f in zip(weights, fits))
        gaps = means - mean
        cov = cov + (gaps * weights[:, None]).T @ gaps
        return cls(mean=mean, covariance=cov, sources=len(fits))

    def mapped(self, esm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(mean, std) of the reference set mapped through an augmented ESM map (D+1, D)."""
        weight, bias = esm[:-1], esm[-1]
        variance = np.einsum("ij,ik,kj->j", weight, self.covariance, weight)
        return self.mean @ weight + bias, np.sqrt(np.clip(variance, 0, None))


def reference_set(hub: Hub) -> ReferenceSet | None:
    """The hub's reference statistics (None when no source has domain statistics)."""
    fits = [f for f in (domain_fit(hub, e.id) for e in hub.entries()) if f is not None]
    return ReferenceSet.from_fits(fits) if fits else None


def esm_ped(ctx: RankContext) -> MethodScores:
    """LogME after potential-energy descent, on the target mapped through each ESM; the
    standardisation uses the hub's sources mapped through the same ESM (the text stand-in for
    PED's ImageNet reference features)."""
    get_score("ped").check_target(ctx.task.is_regression)
    out = MethodScores()
    reference = reference_set(ctx.hub)
    if reference is None:
        logger.warning("esm-ped: the hub has no domain statistics (stepstone hub "
                       "add-domain-stats), standardising with the target's own statistics")
    labels = ctx.task.labels
    features = np.asarray(ctx.features, dtype=np.float64)
    f_aug = np.hstack([features, np.ones((len(features), 1))])
    for entries, maps in ctx.esm_blocks(skipped=out.skipped):
        for entry, esm in zip(entries, maps):
            mean, std = reference.mapped(esm) if reference is not None else (None, None)
            try:
                out.add(entry.id, ped(f_aug @ esm, labels, reference_mean=mean,
                                      reference_std=std))
            except (ScoreError, np.linalg.LinAlgError) as err:
                out.skipped[entry.id] = f"ped failed: {err}"
    return out


register(MethodInfo("domain-divergence", "minus the Fréchet distance of target and source "
                    "base-embedding Gaussians", domain_divergence,
                    needs=frozenset({Need.DOMAIN_STATS}), uses_labels=False))
# the reference statistics come from the whole hub (not the entries ranked): per source
register(MethodInfo("esm-ped", "LogME after potential-energy descent (ESM-mapped target, "
                    "standardised with the hub's domain statistics)", esm_ped,
                    needs=frozenset({Need.ESMS, Need.DOMAIN_STATS}), targets=CLASSIFICATION))
