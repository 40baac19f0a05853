"""The work of one source: fine-tune on it, embed with base and tuned model, fit the ESM.

Everything here runs where the build's jobs run (this process, or a Ray worker) and writes
nothing to the hub: it returns the ESM and its statistics for the driver (build/pipeline.py) to
store. The only files it writes are the kept tuned model (``models_dir``), atomically.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from .._env import DEFAULT_MODEL
from .._io import recover_folder
from ..data.loaders import load_task
from ..data.task import TaskData
from ..encode.encoder import Encoder
from ..esm.config import FORMAT_VERSION, ESMConfig
from ..esm.fit import FitMethod, SGDConfig, fit_linear, fit_linear_sgd, fit_quality
from ..esm.model import ESM
from ..finetune.model import TunedModel
from ..finetune.train import FineTuneConfig, fine_tune
from ..hub.hub import slugify

logger = logging.getLogger(__name__)

#: Learning rate for MiniLM on a CPU budget. The paper's 2e-5 was tuned for BERT-base and ~10x
#: more steps; at a few hundred steps it leaves MiniLM near the majority class (a probe on
#: tweeteval_emotion, 500 examples x 3 epochs: 44% accuracy at 2e-5 vs 72% at 1e-4, majority 43%).
MINILM_LEARNING_RATE = 1e-4



@dataclass(frozen=True)
class BuildConfig:
    """How each source is turned into an ESM.

    The defaults are this project's CPU budget for MiniLM (see README, "The default hub"): 4,000
    source examples x 2 epochs at learning rate 1e-4; the paper uses up to 10,000 x 3 at 2e-5
    with BERT-base (``num_examples=10000, finetune=FineTuneConfig(epochs=3)``).
    """

    model_name: str = DEFAULT_MODEL
    pooling: str | None = None
    max_length: int = 128
    num_examples: int | None = 4000
    held_out: int = 500
    seed: int = 42
    finetune: FineTuneConfig = field(default_factory=lambda: FineTuneConfig(
        epochs=2, learning_rate=MINILM_LEARNING_RATE))
    fit: FitMethod = FitMethod.CLOSED_FORM
    ridge: float | str = "auto"
    sgd: SGDConfig = field(default_factory=SGDConfig)
    weight_dtype: str = "float16"
    device: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["fit"] = self.fit.value
        return out


@dataclass
class SourceArtifacts:
    """What a source's job hands back: the ESM, its source statistics, and how it went."""

    esm: ESM
    stats: dict[str, np.ndarray]
    reused_model: bool


@functools.lru_cache(maxsize=4)
def base_encoder(model_name: str, pooling: str | None, max_length: int,
                 device: str | None) -> Encoder:
    """One base encoder per process and setting (a worker reuses it for all its sources)."""
    return Encoder(model_name, pooling=pooling, max_length=max_length, device=device,
                   show_progress=False)


def make_source_esm(source: str | os.PathLike | TaskData, config: BuildConfig,
                    models_dir: str | os.PathLike | None = None,
                    show_progress: bool | None = None) -> SourceArtifacts:
    """Fine-tune on ``source`` (or reuse its kept model), embed, fit and describe its ESM.

    The caller holds the source's hub lock, so leftovers of an interrupted save in the model
    folder belong to a crashed build and are cleaned up here.
    """
    full = source if isinstance(source, TaskData) else load_task(source, seed=config.seed)
    train, held = split_source(full, num_examples=config.num_examples,
                               held_out=config.held_out, seed=config.seed)
    model_folder = Path(models_dir) / slugify(full.name) if models_dir is not None else None
    if model_folder is not None:
        for line in recover_folder(model_folder):
            logger.warning("%s: %s", models_dir, line)
    kept = kept_source_model(train, config, model_folder)
    tuned, tune_seconds = (kept, kept.log.seconds) if kept is not None else \
        _fine_tune_and_keep(train, config, model_folder, show_progress)
    base = base_encoder(config.model_name, config.pooling, config.max_length, config.device)
    esm, stats, timings = _fit_esm(train, held, tuned, base=base, config=config)
    timings["fine_tune"] = tune_seconds
    esm.config.stepstone["build"] = {"seconds": timings, "device": tuned.log.device,
                                     "examples_per_second": tuned.log.examples_per_second,
                                     "epoch_losses": tuned.log.epoch_losses}
    return SourceArtifacts(esm=esm, stats=stats, reused_model=kept is not None)


def split_source(task: TaskData, *, num_examples: int | None, held_out: int,
                 seed: int) -> tuple[TaskData, TaskData]:
    """Disjoint (training sample, held-out sample) of a source; the held-out part (at most a fifth
    of the data) only measures how well the ESM imitates fine-tuning."""
    held_out = min(held_out, len(task) // 5)
    perm = np.random.default_rng(seed).permutation(len(task))
    held_idx = np.sort(perm[:held_out])
    rest = perm[held_out:]
    train_idx = np.sort(rest[:num_examples] if num_examples is not None else rest)
    train = task.subset(train_idx)
    train = replace(train, origin=replace(task.origin, num_examples=len(train_idx), seed=seed))
    return train, task.subset(held_idx)


def tuned_source_model(train: TaskData, config: BuildConfig, folder: Path | None,
                       show_progress: bool | None = None) -> tuple[TunedModel, float]:
    """The source model fine-tuned on ``train``: loaded from ``folder`` when a model made with
    the same settings is kept there, else fine-tuned (and kept in ``folder``). Returns the model
    and the seconds its fine-tuning took."""
    kept = kept_source_model(train, config, folder)
    if kept is not None:
        return kept, kept.log.seconds
    return _fine_tune_and_keep(train, config, folder, show_progress)


def _fine_tune_and_keep(train: TaskData, config: BuildConfig, folder: Path | None,
                        show_progress: bool | None) -> tuple[TunedModel, float]:
    tuned = fine_tune(train, model_name=config.model_name, config=config.finetune,
                      pooling=config.pooling, max_length=config.max_length, device=config.device,
                      show_progress=show_progress)
    if folder is not None:
        tuned.save(folder)
    return tuned, tuned.log.seconds


def kept_source_model(train: TaskData, config: BuildConfig, folder: Path | None
                      ) -> TunedModel | None:
    """The tuned model kept in ``folder`` if it was made on ``train``'s size with these
    fine-tuning settings, else None."""
    if folder is None or not TunedModel.is_saved(folder):
        return None
    tuned = TunedModel.load(folder, device=config.device)
    if tuned.task.get("origin", {}).get("num_examples") == len(train) \
            and tuned.config == config.finetune.to_dict():
        logger.info("reusing tuned model %s", folder)
        return tuned
    logger.info("tuned model in %s was made with other settings: fine-tuning again", folder)
    return None


def _fit_esm(train: TaskData, held: TaskData, tuned: TunedModel, *, base: Encoder,
             config: BuildConfig) -> tuple[ESM, dict[str, np.ndarray], dict[str, float]]:
    timings: dict[str, float] = {}
    started = time.perf_counter()
    tuned_encoder = Encoder(tuned.spec.model_name, pooling=tuned.spec.pooling,
                            max_length=tuned.spec.max_length, pair_mode=tuned.spec.pair_mode,
                            device=config.device, module=tuned.model.encoder,
                            tokenizer=tuned.tokenizer, show_progress=False)
    both = TaskData(texts=train.texts + held.texts, labels=np.concatenate([train.labels,
                                                                           held.labels]),
                    task_type=train.task_type, name=train.name,
                    text_pairs=(train.text_pairs + held.text_pairs) if train.is_pair else None,
                    label_names=train.label_names)
    encoded = base.encode_inputs(both.texts, both.text_pairs)
    x = base.embed_task(both)
    y = tuned_encoder.embed_encoded(encoded)
    timings["embed"] = time.perf_counter() - started
    n = len(train)
    started = time.perf_counter()
    if config.fit is FitMethod.SGD:
        weight, bias = fit_linear_sgd(x[:n], y[:n], config=config.sgd)
        fit_info: dict[str, Any] = {"method": "sgd", **asdict(config.sgd)}
    else:
        weight, bias, ridge = fit_linear(x[:n], y[:n], ridge=config.ridge)
        fit_info = {"method": "closed-form", "ridge": ridge}
    timings["fit"] = time.perf_counter() - started
    held_quality = fit_quality(weight, bias, x[n:], y[n:]) if len(held) else {}
    train_quality = fit_quality(weight, bias, x[:n], y[:n])
    fit_info.update(held_quality)
    fit_info["train"] = train_quality
    stored = weight.astype(config.weight_dtype), bias.astype(config.weight_dtype)
    if len(held):  # quality of the weights as stored (e.g. float16)
        fit_info["stored_cosine"] = fit_quality(*stored, x[n:], y[n:])["cosine"]
    esm = ESM(weight=weight.astype(np.float32), bias=bias.astype(np.float32),
              config=_esm_config(train, tuned, config, fit_info))
    stats = source_stats(x[:n], [encoded["input_ids"][i] for i in range(n)],
                         vocab_size=len(base.tokenizer))
    return esm, stats, timings


def source_stats(base_embeddings: np.ndarray, token_ids: Sequence[Sequence[int]], *,
                 vocab_size: int) -> dict[str, np.ndarray]:
    """What label-free baselines need later without the source texts: the mean base embedding
    (TextEmb), the set of token ids as a packed bitmap (vocabulary overlap) and a low-rank
    Gaussian fit of the base embeddings (domain-divergence, esm-ped; build/domain_stats.py adds
    it to hubs built before)."""
    from ..scores.divergence import fit_gaussian
    from .domain_stats import DEFAULT_RANK

    present = np.zeros(vocab_size, dtype=bool)
    for ids in token_ids:
        present[np.asarray(ids, dtype=np.int64)] = True
    stats = {"text_mean": base_embeddings.astype(np.float64).mean(0).astype(np.float32),
             "token_bitmap": np.packbits(present),
             "vocab_size": np.asarray([vocab_size], dtype=np.int64)}
    if len(base_embeddings) >= 2:
        rank = min(DEFAULT_RANK, base_embeddings.shape[1])
        stats.update(fit_gaussian(base_embeddings, rank=rank).to_tensors())
    return stats


def _esm_config(train: TaskData, tuned: TunedModel, config: BuildConfig,
                fit_info: dict[str, Any]) -> ESMConfig:
    origin = train.origin
    ft = config.finetune
    text_column: str | list[str] = origin.text_column
    if origin.pair_column:
        text_column = [origin.text_column, origin.pair_column]
    sgd = config.fit is FitMethod.SGD
    return ESMConfig(
        base_model_name=tuned.spec.model_name, task_id=train.name, task_subset=origin.subset,
        text_column=text_column, label_column=origin.label_column, task_split=origin.split,
        num_examples=len(train), seed=config.seed, esm_architecture="linear",
        lm_num_epochs=ft.epochs, lm_batch_size=ft.batch_size, lm_learning_rate=ft.learning_rate,
        lm_weight_decay=ft.weight_decay, lm_optimizer="AdamW",
        esm_num_epochs=config.sgd.epochs if sgd else None,
        esm_batch_size=config.sgd.batch_size if sgd else None,
        esm_learning_rate=config.sgd.learning_rate if sgd else None,
        esm_weight_decay=config.sgd.weight_decay if sgd else None,
        esm_optimizer="AdamW" if sgd else None, developers="stepstone",
        stepstone={
            "format_version": FORMAT_VERSION,
            "library_version": __version__,
            "task_name": train.name,
            "task_type": train.task_type.value,
            "num_classes": None if train.is_regression else train.num_classes,
            "label_names": train.label_names,
            "is_pair": train.is_pair,
            "embedding": tuned.spec.to_dict(),
            "source": origin.to_dict(),
            "fit": fit_info,
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        },
    )
