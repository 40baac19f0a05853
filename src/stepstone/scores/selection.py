"""Combining and diversifying rankings: rank fusion, task-embedding similarity, greedy
diverse top-k, and the ESM similarity it uses. Pure functions over arrays."""

from __future__ import annotations

import numpy as np

from ..errors import ScoreError

#: The usual RRF constant (Cormack et al. 2009; the ESM paper's TaskEmb uses it too).
RRF_K = 60


def reciprocal_rank_fusion(scores: np.ndarray, *, k: int = RRF_K) -> np.ndarray:
    """Σ_m 1 / (k + rank_m(s)), ranks 1 = best (higher score), ties get their average rank.

    Shapes: scores (M, S) one row per method -> (S,).
    """
    from scipy.stats import rankdata  # here, not at the top: scipy.stats costs ~1 s cold

    scores = _matrix(scores)
    ranks = np.vstack([rankdata(-row, method="average") for row in scores])
    return (1.0 / (k + ranks)).sum(0)


def zscore_fusion(scores: np.ndarray) -> np.ndarray:
    """Mean over methods of each method's standardised score (a constant row adds 0).

    Shapes: scores (M, S) -> (S,).
    """
    scores = _matrix(scores)
    std = scores.std(1, keepdims=True)
    z = np.divide(scores - scores.mean(1, keepdims=True), std, out=np.zeros_like(scores),
                  where=std > 0)
    return z.mean(0)


def _matrix(scores: np.ndarray) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or not np.isfinite(scores).all():
        raise ScoreError(f"fusion needs a finite (methods, sources) matrix, got {scores.shape}")
    return scores


def cosine_to_rows(vector: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Cosine of ``vector`` with each row (0 for zero vectors). Shapes: (D,), (S, D) -> (S,)."""
    vector, rows = np.asarray(vector, np.float64), np.asarray(rows, np.float64)
    denom = np.linalg.norm(rows, axis=1) * np.linalg.norm(vector)
    return np.divide(rows @ vector, denom, out=np.zeros(len(rows)), where=denom > 0)


def taskemb_scores(target: dict[str, np.ndarray], sources: list[dict[str, np.ndarray]]
                   ) -> np.ndarray:
    """TaskEmb ranking score of each source: per component, the cosine between the target's
    and the source's Fisher embedding; components combined by reciprocal rank fusion.

    Shapes: target {component: (D,)}, sources [{component: (D,)}] * S -> (S,).
    """
    if not sources:
        return np.zeros(0)
    names = sorted(target)
    missing = [n for n in names if any(n not in s for s in sources)]
    if missing:
        raise ScoreError(f"task embeddings lack components {missing}")
    sims = np.vstack([cosine_to_rows(target[n], np.vstack([s[n] for s in sources]))
                      for n in names])
    return reciprocal_rank_fusion(sims)


def greedy_diverse(scores: np.ndarray, similarity: np.ndarray, *, k: int,
                   tradeoff: float = 0.5) -> tuple[list[int], list[float]]:
    """Pick k items that score high and are unlike each other (maximal marginal relevance).

    Scores are min-max normalised to [0, 1]; each step takes the item maximising
    q_i − tradeoff · max_{j chosen} sim(i, j) (the best item first). Returns the picked indices
    in order and each pick's redundancy (its largest similarity to an earlier pick, 0 for the
    first). Shapes: scores (S,), similarity (S, S) -> ([k], [k]).
    """
    scores = np.asarray(scores, dtype=np.float64)
    similarity = np.asarray(similarity, dtype=np.float64)
    if similarity.shape != (len(scores), len(scores)):
        raise ScoreError(f"similarity must be ({len(scores)}, {len(scores)}), got "
                         f"{similarity.shape}")
    span = scores.max() - scores.min() if len(scores) else 0.0
    quality = (scores - scores.min()) / span if span > 0 else np.ones_like(scores)
    picked: list[int] = []
    redundancy: list[float] = []
    closest = np.zeros(len(scores))  # max similarity to the picks so far
    for _ in range(min(k, len(scores))):
        gain = np.where(np.isin(np.arange(len(scores)), picked), -np.inf,
                        quality - tradeoff * closest)
        best = int(np.argmax(gain))
        redundancy.append(float(closest[best]))
        picked.append(best)
        closest = np.maximum(closest, similarity[:, best])
    return picked, redundancy


def mapped_gram_sketches(features: np.ndarray, maps: np.ndarray) -> np.ndarray:
    """Unit-norm sketches whose dot products are the linear CKA between the target's features
    mapped through two ESMs (centred; the bias drops out).

    With Fc = U S Vᵀ (rank r) and Φ_s = Fc W_sᵀ, the N × N Gram Φ_s Φ_sᵀ = U M_s Uᵀ with
    M_s = (W_s V S)ᵀ(W_s V S), so CKA(s, t) = ⟨M_s, M_t⟩ / (‖M_s‖ ‖M_t‖) without any N × N
    matrix. Shapes: features (N, D), maps (B, D + 1, D') stacked [Wᵀ; bᵀ] -> (B, r²) float32
    (r ≤ min(N, D); float32 keeps 100 sketches of D = 384 under 60 MB).
    """
    f = np.asarray(features, dtype=np.float64)
    fc = f - f.mean(0)
    _, s, vt = np.linalg.svd(fc, full_matrices=False)
    keep = s > max(fc.shape) * np.finfo(np.float64).eps * (s.max() if s.size else 0.0)
    basis = vt[keep].T * s[keep]  # V S, (D, r)
    out = []
    for a in np.asarray(maps, dtype=np.float64):
        g = a[:-1].T @ basis  # W V S, (D', r)
        m = (g.T @ g).ravel()
        norm = np.linalg.norm(m)
        out.append((m / norm if norm > 0 else m).astype(np.float32))
    return np.vstack(out) if out else np.zeros((0, int(keep.sum()) ** 2), dtype=np.float32)
