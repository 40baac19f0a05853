"""``taskemb``: Fisher-information task embeddings (Vu et al. 2020), reduced to run on a CPU.

Source side: the kept fine-tuned model of each source and a seeded sample of its training data
(found through ``stepstone.source`` in the ESM config; a pool task also by its bare name),
computed once and cached as safetensors in ``$STEPSTONE_CACHE/taskemb``. Target side: the base
model with a linear head fitted on the frozen target embeddings (fine-tuning a whole model on
the target, as Vu et al. do, costs minutes per target on a CPU). Both sides use the same
components (see :mod:`stepstone.finetune.fisher`); sources are ranked by reciprocal rank
fusion of the per-component cosine similarities, as in the ESM paper's re-implementation.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np

from ..._env import cache_dir
from ..._io import write_safetensors
from ..._progress import progress
from ...data.loaders import load_task
from ...data.task import TaskData
from ...errors import DataError, ModelLoadError
from ...finetune.fisher import fisher_task_embedding, fit_head
from ...finetune.model import SequenceModel, TunedModel, standardisation
from ...hub.catalog import HubEntry
from ...scores.selection import taskemb_scores
from ..context import MethodScores, RankContext
from ..registry import MethodInfo, Need, PoolUse, register
from .tuned import model_identity, models_root

logger = logging.getLogger(__name__)

#: Examples per side: enough for stable per-dimension averages, a few seconds per model on CPU.
TASKEMB_EXAMPLES = 256
SOURCE_SEED = 42


def source_sample(entry: HubEntry, *, num_examples: int = TASKEMB_EXAMPLES) -> TaskData:
    """A seeded sample of the source's data, read as the build read it."""
    source = entry.block.source
    if not source.location:
        raise DataError(f"the ESM config of {entry.id} does not record where its data is")
    places = [source.location] + ([Path(source.location).name] if source.kind == "pool" else [])
    for place in places:
        try:
            return load_task(place, num_examples=num_examples, seed=SOURCE_SEED,
                             **source.columns())
        except DataError as err:
            error = err
    raise DataError(f"source data of {entry.id} not found ({error}); TaskEmb needs it")


def source_task_embedding(entry: HubEntry, folder: Path, *, device=None
                          ) -> dict[str, np.ndarray]:
    """The source's Fisher embedding, from the cache or computed from its tuned model."""
    from safetensors.numpy import load_file

    settings = {"model": model_identity(folder), "examples": TASKEMB_EXAMPLES,
                "seed": SOURCE_SEED, "components": "activations-v1"}
    key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:32]
    path = cache_dir() / "taskemb" / f"{key}.safetensors"
    if path.is_file():
        return load_file(str(path))
    tuned = TunedModel.load(folder, device=device)
    sample = source_sample(entry)
    targets = sample.labels
    if tuned.is_regression:
        targets = (sample.labels - tuned.label_shift) / tuned.label_scale
    elif sample.is_regression or sample.labels.max() >= tuned.model.head.out_features:
        raise DataError(f"the labels of {entry.id}'s data do not match its tuned model's head")
    embedding = fisher_task_embedding(tuned.model, tuned.tokenizer, tuned.spec, sample, targets,
                                      regression=tuned.is_regression, device=device)
    try:
        write_safetensors(path, embedding, metadata={"settings": json.dumps(settings)})
    except OSError as err:  # a read-only cache must not stop ranking
        logger.warning("could not cache the task embedding of %s: %s", entry.id, err)
    return embedding


def target_task_embedding(ctx: RankContext) -> dict[str, np.ndarray]:
    """The target's Fisher embedding: base model + a head fitted on frozen embeddings."""
    sample = ctx.task.sample(TASKEMB_EXAMPLES, seed=ctx.seed)
    encoder = ctx.encoder
    features = encoder.embed_task(sample)
    if ctx.task.is_regression:
        shift, scale = standardisation(sample.labels)
        targets, outputs = (sample.labels - shift) / scale, 1
    else:
        targets, outputs = sample.labels, ctx.task.num_classes
    model = SequenceModel(encoder.module, pooling=encoder.spec.pooling, num_outputs=outputs)
    model.head = fit_head(features, targets, outputs=outputs, regression=ctx.task.is_regression)
    return fisher_task_embedding(model, encoder.tokenizer, encoder.spec, sample, targets,
                                 regression=ctx.task.is_regression, device=encoder.device)


def taskemb(ctx: RankContext) -> MethodScores:
    """Reciprocal rank fusion of per-component cosines between Fisher task embeddings."""
    out = MethodScores()
    root = models_root(ctx, "taskemb")
    target = target_task_embedding(ctx)
    ids, embeddings = [], []
    for entry in progress(ctx.entries, desc="taskemb: source embeddings", unit="model",
                          show=ctx.show_progress, leave=False):
        folder = root / entry.id
        if not TunedModel.is_saved(folder):
            out.skipped[entry.id] = f"no kept fine-tuned model in {folder}"
            continue
        try:
            embeddings.append(source_task_embedding(entry, folder, device=ctx.encoder.device))
            ids.append(entry.id)
        except (ModelLoadError, DataError) as err:
            out.skipped[entry.id] = str(err)
    for esm_id, score in zip(ids, taskemb_scores(target, embeddings)):
        out.add(esm_id, score)
    return out


# the per-source parts would be the Fisher cosines to the target's embedding, which costs a
# forward and backward pass of the base model per shard: run whole, on the driver
register(MethodInfo("taskemb", "rank fusion of cosines between Fisher task embeddings",
                    taskemb, needs=frozenset({Need.TUNED_MODELS, Need.SOURCE_DATA,
                                              Need.BASE_MODEL}),
                    pool=PoolUse.FUSED, whole=True))
