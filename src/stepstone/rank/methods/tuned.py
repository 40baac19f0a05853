"""Methods that need each source's kept fine-tuned model (``--models DIR`` or
``$STEPSTONE_MODELS``; ``<DIR>/<esm id>`` as written by ``stepstone build --keep-models``):

- ``logme``: LogME on the fine-tuned model's own embeddings of the target (what ESM-LogME
  approximates; one forward pass of every source model),
- ``leep`` / ``nce``: the source classifier head's softmax on the target (classification
  targets and classification sources only).

The fine-tuned embeddings of a target are cached like base embeddings, keyed by the model's
files, so a second method on the same target costs no forward pass. A source without a kept
model is left out with the reason.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..._progress import progress
from ...encode.cache import default_cache
from ...encode.encoder import Encoder
from ...encode.models import EmbeddingSpec
from ...errors import InvalidOptionError, ModelLoadError, ScoreError
from ...finetune.model import HEAD_FILE, TUNED_META, TunedModel
from ...hub.catalog import HubEntry
from ...scores.leep import leep, nce
from ...scores.logme import logme
from ...scores._special import softmax_rows
from ...scores.registry import get_score
from ..context import MethodScores, RankContext
from ..registry import CLASSIFICATION, MethodInfo, Need, Reference, register

logger = logging.getLogger(__name__)

MODELS_ENV = "STEPSTONE_MODELS"


def models_root(ctx: RankContext, method: str) -> Path:
    """The folder of kept tuned models, or a clear error naming the option to set."""
    folder = ctx.models_dir or (Path(os.environ[MODELS_ENV]) if os.environ.get(MODELS_ENV)
                                else None)
    if folder is None:
        raise InvalidOptionError(f"method {method!r} needs the sources' fine-tuned models: pass "
                                 f"--models DIR (models_dir=...) or set ${MODELS_ENV} to the "
                                 "folder given to `stepstone build --keep-models`")
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise InvalidOptionError(f"models folder {folder} does not exist (method {method!r})")
    return folder


@dataclass
class TunedOutputs:
    """A tuned source model's view of the target: embeddings (N, D) and head (Cs, D), (Cs,)."""

    embeddings: np.ndarray
    head_weight: np.ndarray
    head_bias: np.ndarray
    task: dict

    @property
    def is_regression(self) -> bool:
        return self.task.get("task_type") == "regression"

    def probabilities(self) -> np.ndarray:
        """Softmax of the source head on the target embeddings (N, Cs)."""
        logits = self.embeddings.astype(np.float64) @ self.head_weight.T + self.head_bias
        return softmax_rows(logits, axis=1)


def model_identity(folder: Path) -> str:
    """Cache identity of a kept model: its path and a hash of its metadata and head (both are
    rewritten whenever the model is fine-tuned again)."""
    digest = hashlib.sha256((folder / TUNED_META).read_bytes())
    digest.update((folder / HEAD_FILE).read_bytes())
    return f"tuned:{folder.resolve()}:{digest.hexdigest()[:16]}"


def tuned_outputs(ctx: RankContext, folder: Path) -> TunedOutputs:
    """Embed the target with the tuned model in ``folder`` (from the cache when possible)."""
    from safetensors.numpy import load_file

    try:
        meta = json.loads((folder / TUNED_META).read_text())
        head = load_file(str(folder / HEAD_FILE))
        spec = EmbeddingSpec.from_dict(meta["spec"])
    except (OSError, ValueError, KeyError) as err:
        raise ModelLoadError(f"cannot read the tuned model in {folder}: {err}") from err
    identity = model_identity(folder)
    cache = default_cache()
    cached = cache.get(cache.key(spec, identity, ctx.task.fingerprint),
                       expected_rows=len(ctx.task))
    if cached is None:
        tuned = TunedModel.load(folder, device=ctx.encoder.device)
        encoder = Encoder(spec.model_name, pooling=spec.pooling, max_length=spec.max_length,
                          pair_mode=spec.pair_mode, device=ctx.encoder.device,
                          module=tuned.model.encoder, tokenizer=tuned.tokenizer,
                          cache_identity=identity, show_progress=False)
        cached = encoder.embed_task(ctx.task)
    return TunedOutputs(embeddings=cached, head_weight=head["weight"].astype(np.float64),
                        head_bias=head["bias"].astype(np.float64), task=meta.get("task", {}))


def each_tuned(ctx: RankContext, method: str, out: MethodScores
               ) -> Iterator[tuple[HubEntry, TunedOutputs]]:
    """(entry, tuned outputs) for every entry with a usable kept model; the rest are skipped."""
    root = models_root(ctx, method)
    bar = progress(ctx.entries, desc=f"{method}: fine-tuned models", unit="model",
                   show=ctx.show_progress, leave=False)
    for entry in bar:
        folder = root / entry.id
        if not TunedModel.is_saved(folder):
            out.skipped[entry.id] = f"no kept fine-tuned model in {folder}"
            continue
        try:
            yield entry, tuned_outputs(ctx, folder)
        except ModelLoadError as err:
            out.skipped[entry.id] = str(err)


def tuned_logme(ctx: RankContext) -> MethodScores:
    """LogME on each fine-tuned source model's own embeddings of the target."""
    out = MethodScores()
    for entry, outputs in each_tuned(ctx, "logme", out):
        out.add(entry.id, logme(outputs.embeddings, ctx.task.labels,
                                regression=ctx.task.is_regression))
    if out.scores:  # the base model's own embeddings: fine-tuning on the target directly
        reference = logme(np.asarray(ctx.features, dtype=np.float64), ctx.task.labels,
                          regression=ctx.task.is_regression)
        out.reference = float(reference) if np.isfinite(reference) else None
    return out


def head_method(name: str, score: Callable[..., float]) -> Callable[[RankContext], MethodScores]:
    def method(ctx: RankContext) -> MethodScores:
        get_score(name).check_target(ctx.task.is_regression)
        out = MethodScores()
        for entry, outputs in each_tuned(ctx, name, out):
            if outputs.is_regression:
                out.skipped[entry.id] = f"{name} needs a classification source (this one is " \
                                        "regression: its head gives no class probabilities)"
                continue
            try:
                out.add(entry.id, score(outputs.probabilities(), ctx.task.labels))
            except ScoreError as err:
                out.skipped[entry.id] = f"{name} failed: {err}"
        return out

    method.__doc__ = f"{name.upper()} of each source model's classifier head on the target."
    return method


register(MethodInfo("logme", "LogME on each fine-tuned source model's own embeddings of the "
                    "target", tuned_logme, needs=frozenset({Need.TUNED_MODELS}),
                    reference=Reference.BASE_MODEL))
register(MethodInfo("leep", "LEEP of each source model's classifier head on the target",
                    head_method("leep", leep), needs=frozenset({Need.TUNED_MODELS}),
                    targets=CLASSIFICATION))
register(MethodInfo("nce", "NCE of each source model's classifier head on the target",
                    head_method("nce", nce), needs=frozenset({Need.TUNED_MODELS}),
                    targets=CLASSIFICATION))
