"""The candidates of a transfer run, and how each source model is made.

A candidate is a hub source with the recipe its ESM records (where its data came from, how many
examples, the fine-tuning settings), so the source model fine-tuned here is the one the ESM
imitates; a kept model made with that recipe (``stepstone build --keep-models``) is reused. A
source given by name that is not in the hub is fine-tuned with the default build recipe.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ..data.loaders import check_location, load_task, task_name
from ..errors import DataError, ModelLoadError, SourceDataError
from ..finetune.model import TunedModel
from ..finetune.train import FineTuneConfig
from ..hub.catalog import HubEntry
from ..hub.hub import slugify
from ..build.source_esm import BuildConfig, split_source, tuned_source_model

logger = logging.getLogger(__name__)

#: The candidate "no intermediate step": the target fine-tuned from the base model (the same
#: label as the benchmark's baseline rows, so both files read alike).
NO_TRANSFER = "(no transfer)"


@dataclass(frozen=True)
class SourceRecipe:
    """How to remake one source model: its data, sample and fine-tuning settings."""

    name: str
    location: str
    kind: str = "pool"  # pool | csv | jsonl | ... | hf (TaskOrigin.kind)
    split: str | None = None
    subset: str | None = None
    num_examples: int | None = None
    held_out: int = 500
    seed: int = 42
    model_name: str = ""
    pooling: str | None = None
    max_length: int = 128
    finetune: FineTuneConfig = field(default_factory=FineTuneConfig)
    rank: int | None = None  # the source's place in the ranking it came from

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def build_config(self, device: str | None) -> BuildConfig:
        return BuildConfig(model_name=self.model_name, pooling=self.pooling,
                           max_length=self.max_length, num_examples=self.num_examples,
                           held_out=self.held_out, seed=self.seed, finetune=self.finetune,
                           device=device)


def recipe_from_entry(entry: HubEntry, *, rank: int | None = None) -> SourceRecipe:
    """The recipe an ESM records (hfselect's ``lm_*`` fields plus stepstone's ``source``)."""
    config = entry.config
    extra = config.get("stepstone") or {}
    origin = extra.get("source") or {}
    embedding = extra.get("embedding") or {}
    # the build held out up to 500 examples to measure the ESM; the same seeded split gives the
    # same training sample, so a kept model is recognised and a new one matches the ESM
    held_out = (extra.get("fit") or {}).get("num_pairs", 500)
    finetune = FineTuneConfig(epochs=int(config.get("lm_num_epochs") or 3),
                              batch_size=int(config.get("lm_batch_size") or 32),
                              learning_rate=float(config.get("lm_learning_rate") or 2e-5),
                              weight_decay=float(config.get("lm_weight_decay") or 0.01))
    return SourceRecipe(
        name=entry.id, location=str(origin.get("location") or entry.task_id),
        kind=str(origin.get("kind") or "hf"), split=origin.get("split") or config.get("task_split"),
        subset=origin.get("subset") or config.get("task_subset"),
        num_examples=config.get("num_examples") or entry.num_examples, held_out=int(held_out),
        seed=int(config.get("seed") or 42), model_name=entry.base_model,
        pooling=embedding.get("pooling"), max_length=int(embedding.get("max_length") or 128),
        finetune=finetune, rank=rank)


def recipe_for_dataset(location: str, *, model_name: str, rank: int | None = None
                       ) -> SourceRecipe:
    """A source that is not in the hub: the default build recipe (README, "The default hub")."""
    build = BuildConfig(model_name=model_name)
    return SourceRecipe(name=task_name(location), location=location, kind="given",
                        num_examples=build.num_examples, held_out=build.held_out,
                        seed=build.seed, model_name=model_name, finetune=build.finetune,
                        rank=rank)


def with_overrides(recipe: SourceRecipe, *, num_examples: int | None = None,
                   epochs: int | None = None) -> SourceRecipe:
    """A cheaper recipe for a quick look (``--source-examples``, ``--source-epochs``); the
    source model then differs from the one the ESM imitates, and is kept under another name."""
    out = recipe
    if num_examples is not None:
        out = replace(out, num_examples=min(num_examples, out.num_examples or num_examples))
    if epochs is not None:
        out = replace(out, finetune=replace(out.finetune, epochs=epochs))
    return out


def data_locations(recipe: SourceRecipe) -> list[str]:
    """Where a source's data may be, in the order tried: the recorded location (a path relative
    to where the hub was built may not exist here), then its pool task name."""
    places = [recipe.location]
    name = task_name(recipe.location)
    if recipe.kind == "pool" and name not in places:
        places.append(name)
    return places


def load_source(recipe: SourceRecipe):
    """The source's training sample, as the build drew it; SourceDataError says how to fix a
    missing dataset."""
    tried = []
    for place in data_locations(recipe):
        try:
            check_location(place)
            task = load_task(place, split=recipe.split, subset=recipe.subset, seed=recipe.seed)
        except DataError as err:
            tried.append(f"{place}: {err}")
            continue
        train, _ = split_source(task, num_examples=recipe.num_examples,
                                held_out=recipe.held_out, seed=recipe.seed)
        return train
    fix = ("put the dataset pool where stepstone looks for it (../shared/datasets next to the "
           "working folder, or set STEPSTONE_DATASETS to the folder that holds "
           f"{task_name(recipe.location)}/)" if recipe.kind == "pool" else
           "go online once (or put the dataset in the Hugging Face cache)" if recipe.kind == "hf"
           else "check the path, or pass the file's new place in --sources")
    raise SourceDataError(f"source {recipe.name}: its training data cannot be found "
                          f"({'; '.join(tried)}). To use it, {fix}; the other candidates "
                          "still run.")


def model_folder(models_dir: str | os.PathLike, recipe: SourceRecipe, *, full: bool) -> Path:
    """Where the source model is kept: the build's folder name for the ESM's own recipe (so
    ``build --keep-models`` folders are reused), a name with the sizes for a cheaper recipe."""
    name = slugify(task_name(recipe.location))
    if not full:
        name += f"-n{recipe.num_examples}-e{recipe.finetune.epochs}"
    return Path(models_dir) / name


def source_model(recipe: SourceRecipe, *, models_dir: str | os.PathLike, full: bool,
                 device: str | None, show_progress: bool | None) -> TunedModel:
    """The tuned source model: the kept one when its settings match, else fine-tuned and kept."""
    train = load_source(recipe)
    folder = model_folder(models_dir, recipe, full=full)
    try:
        model, _ = tuned_source_model(train, recipe.build_config(device), folder,
                                      show_progress=show_progress)
    except ModelLoadError as err:
        raise ModelLoadError(f"source {recipe.name}: {err}") from err
    return model
