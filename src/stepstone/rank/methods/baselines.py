"""Selection baselines that need no ESM: TextEmb, vocabulary overlap, source size, random.

TextEmb and vocabulary overlap compare the target with statistics stored per source at build
time (``source_stats.safetensors``: the mean base embedding of the source sample and the set of
its token ids); a source without them is left out with the reason. Neither looks at labels, so
both work for regression targets too.
"""

from __future__ import annotations

import hashlib

import numpy as np

from ...esm.block import StepstoneBlock
from ..context import MethodScores, RankContext
from ..registry import MethodInfo, Need, register

NO_STATS = ("no source statistics (source_stats.safetensors) in the hub; rebuild the ESM with "
            "`stepstone build --overwrite` to add them")


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two vectors (0 when either is zero). Shapes: (D,), (D,) -> float."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    denom = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b / denom) if denom > 0 else 0.0


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """|A ∩ B| / |A ∪ B| of two boolean membership vectors (0 for two empty sets)."""
    union = int(np.count_nonzero(a | b))
    return int(np.count_nonzero(a & b)) / union if union else 0.0


def token_set(token_ids: list[list[int]], *, vocab_size: int, ignore: list[int]) -> np.ndarray:
    """Boolean (vocab_size,) membership of the ids that occur, without the ``ignore`` ids."""
    present = np.zeros(vocab_size, dtype=bool)
    for ids in token_ids:
        present[np.asarray(ids, dtype=np.int64)] = True
    present[np.asarray(ignore, dtype=np.int64)] = False
    return present


def textemb(ctx: RankContext) -> MethodScores:
    """Cosine between the mean base embedding of the target texts and of each source's texts
    (TextEmb of Vu et al. 2020 with the pooled sentence embedding, as in the ESM paper)."""
    out = MethodScores()
    target = np.asarray(ctx.features, dtype=np.float64).mean(0)
    for entry in ctx.entries:
        stats = ctx.hub.stats(entry.id)
        if "text_mean" not in stats:
            out.skipped[entry.id] = NO_STATS
        elif stats["text_mean"].shape != target.shape:
            out.skipped[entry.id] = (f"stored mean embedding has shape "
                                     f"{stats['text_mean'].shape}, the target's {target.shape}")
        else:
            out.add(entry.id, cosine(target, stats["text_mean"]))
    return out


def vocab_overlap(ctx: RankContext) -> MethodScores:
    """Jaccard index of the sets of token ids in the target and in each source sample (special
    tokens such as [CLS]/[SEP]/[PAD] left out: every text has them)."""
    out = MethodScores()
    tokenizer = ctx.encoder.tokenizer
    vocab_size = len(tokenizer)
    special = list(tokenizer.all_special_ids)
    target = token_set(ctx.encoder.tokenize(ctx.task.texts, ctx.task.text_pairs),
                       vocab_size=vocab_size, ignore=special)
    for entry in ctx.entries:
        stats = ctx.hub.stats(entry.id)
        if "token_bitmap" not in stats:
            out.skipped[entry.id] = NO_STATS
            continue
        size = int(stats["vocab_size"][0]) if "vocab_size" in stats else vocab_size
        if size != vocab_size:
            out.skipped[entry.id] = (f"token set was made with a vocabulary of {size} ids, the "
                                     f"target's tokenizer has {vocab_size}")
            continue
        source = np.unpackbits(stats["token_bitmap"])[:size].astype(bool)
        source[special] = False
        out.add(entry.id, jaccard(target, source))
    return out


def source_size(config: dict) -> int | None:
    """Rows of the source dataset before sampling (else the ESM's training sample size)."""
    return StepstoneBlock.of(config).source.total_examples or config.get("num_examples")


def size(ctx: RankContext) -> MethodScores:
    """Bigger sources first (the DataSize baseline of Vu et al. 2020)."""
    out = MethodScores()
    for entry in ctx.entries:
        rows = source_size(entry.config)
        if rows is None:
            out.skipped[entry.id] = "the ESM config records no source size"
        else:
            out.add(entry.id, float(rows))
    return out


def seeded_uniform(seed: int, key: str) -> float:
    """A uniform number in [0, 1) fixed by (seed, key): adding sources reshuffles nobody."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def random_order(ctx: RankContext) -> MethodScores:
    """A random order, reproducible with ``--seed``: the floor any method must beat."""
    out = MethodScores()
    for entry in ctx.entries:
        out.add(entry.id, seeded_uniform(ctx.seed, entry.id))
    return out


register(MethodInfo("textemb", "cosine of the mean base embeddings of target and source texts",
                    textemb, needs=frozenset({Need.SOURCE_STATS}), uses_labels=False))
register(MethodInfo("vocab-overlap", "Jaccard index of the target's and the source's token sets",
                    vocab_overlap, needs=frozenset({Need.SOURCE_STATS, Need.BASE_MODEL}),
                    uses_labels=False))
register(MethodInfo("size", "bigger sources first (DataSize)", size,
                    needs=frozenset({Need.CONFIG}), uses_labels=False))
register(MethodInfo("random", "a seeded random order: the floor to beat", random_order,
                    uses_labels=False))
