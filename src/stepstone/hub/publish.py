"""Publish an ESM to the Hugging Face Hub the way hfselect does, so hfselect users find it.

One model repo per ESM with config.json (hfselect's fields, ``"version"`` never "0.1.0"),
model.safetensors (``model.weight``/``model.bias``) and a model card whose metadata carries what
hfselect searches for: ``base_model``, ``datasets``, ``license`` and the tags
``embedding_space_map`` and ``BaseLM:<base model>``. The card also records what hfselect's
config has no field for: the embedding the ESM expects and how well it imitates fine-tuning.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import replace
from pathlib import Path

from .._env import hf_offline
from ..errors import HubError
from ..esm.config import ESMConfig
from ..esm.embedding import expected_embedding
from ..esm.io import WEIGHTS_FILE, save_esm
from .hub import CARD_FILE, Hub
from .remote import ESM_TAG

DEFAULT_LICENSE = "apache-2.0"


def model_card(config: ESMConfig, *, license: str = DEFAULT_LICENSE,
               repo_id: str = "<this repo>") -> str:
    """README.md for an ESM repo: hfselect's card metadata, then a description."""
    from huggingface_hub import ModelCardData

    base = config.base_model_name
    metadata = ModelCardData(license=license, datasets=[config.task_id], base_model=base,
                             tags=[ESM_TAG, f"BaseLM:{base}", "stepstone"])
    spec = expected_embedding(base, config.to_dict())
    fit, dim = config.fit, config.esm_embedding_dim
    lines = [
        "---", metadata.to_yaml(), "---", "",
        f"# ESM {config.task_id}", "",
        f"An Embedding Space Map (ESM) for **{base}**: a linear map `W x + b` ({dim} x {dim}) of "
        "the base model's sentence embeddings that imitates what fine-tuning on "
        f"**{config.task_name}** does to them. ESM-LogME uses it to rank intermediate datasets "
        "for a target task without fine-tuning (Schulte, Hamborg & Akbik, *Less is More*, "
        "EMNLP 2024).", "",
        "## Embedding it expects", "",
        f"- pooling: {spec.get('pooling')}, max length {spec.get('max_length')} tokens, text "
        f"pairs joined as `{spec.get('pair_mode')}`",
        "", "## Source task", "",
        *_items([("task", config.task_id), ("subset", config.task_subset),
                 ("task type", config.task_type), ("text column", config.text_column),
                 ("label column", config.label_column), ("split", config.task_split),
                 ("examples", config.num_examples), ("seed", config.seed)]),
        "", "## Training", "",
        *_items([("language model epochs", config.lm_num_epochs),
                 ("batch size", config.lm_batch_size),
                 ("learning rate", config.lm_learning_rate),
                 ("weight decay", config.lm_weight_decay),
                 ("ESM fit", fit.get("method") or config.esm_optimizer)]),
    ]
    if fit.get("cosine") is not None:
        lines += ["", "## How well it imitates fine-tuning (held-out source examples)", "",
                  *_items([("cosine of ESM(x) and the fine-tuned embedding", fit.get("cosine")),
                           ("same for the identity map (no ESM)", fit.get("base_cosine")),
                           ("mean squared error", fit.get("mse")),
                           ("stored weights' cosine", fit.get("stored_cosine")),
                           ("held-out pairs", fit.get("num_pairs"))])]
    lines += ["", "## Use", "",
              f'- hfselect: `hfselect.ESM.from_pretrained("{repo_id}")`; '
              f'`compute_task_ranking(dataset, model_name="{base}")` finds it by its tags',
              f"- stepstone: `stepstone hub pull --base-model {base} --hub my_hub`, then "
              "`stepstone rank my_data.csv --hub my_hub`", "",
              "Written by stepstone; the files follow hf-dataset-selector (hfselect) 0.2.", ""]
    return "\n".join(lines)


def _items(pairs: list[tuple[str, object]]) -> list[str]:
    return [f"- {name}: {value}" for name, value in pairs if value is not None]


def export_esm(hub: Hub, esm_id: str, folder: str | os.PathLike, *, task_id: str | None = None,
               base_model_id: str | None = None, license: str = DEFAULT_LICENSE,
               repo_id: str = "<this repo>") -> Path:
    """Write ``esm_id`` as a Hub-ready folder (config.json, model.safetensors, README.md).

    ``task_id`` / ``base_model_id`` replace the dataset and base model names (e.g. the Hub ids
    of a local task or of a local copy of a Hub model); the base model must be a Hub id.
    """
    esm = hub.get(esm_id)
    config = replace(esm.config, stepstone=dict(esm.config.stepstone),
                     task_id=task_id or esm.config.task_id,
                     base_model_name=base_model_id or esm.config.base_model_name)
    _check_hub_id(config.base_model_name, what="base model", option="--base-model-id")
    esm.config = config
    dtype = "float16" if str(esm.weight.dtype) == "float16" else "float32"
    return save_esm(esm, folder, dtype=dtype, extra_files={CARD_FILE: model_card(
        config, license=license, repo_id=repo_id)})


def _check_hub_id(name: str, *, what: str, option: str) -> None:
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    local = name.startswith(("/", ".", "~")) or Path(name).expanduser().exists()
    try:
        validate_repo_id(name)
    except HFValidationError:
        local = True
    if local:
        raise HubError(f"the ESM's {what} is {name!r}, not a Hugging Face Hub id; hfselect users "
                       f"could not use it. Pass the Hub id it corresponds to with {option}.")


def push_esm(hub: Hub, esm_id: str, repo_id: str, *, private: bool = False,
             token: str | None = None, task_id: str | None = None,
             base_model_id: str | None = None, license: str = DEFAULT_LICENSE,
             commit_message: str | None = None) -> str:
    """Publish ``esm_id`` to the Hub repo ``repo_id`` (created if needed); returns its URL."""
    if hf_offline():
        raise HubError("HF_HUB_OFFLINE is set: cannot push. Write the repo folder with "
                       "`stepstone hub export` and upload it later.")
    _check_hub_id(repo_id, what="target repo", option="--repo-id")
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    with tempfile.TemporaryDirectory(prefix="stepstone-push-") as tmp:
        folder = export_esm(hub, esm_id, Path(tmp) / "esm", task_id=task_id,
                            base_model_id=base_model_id, license=license, repo_id=repo_id)
        assert (folder / WEIGHTS_FILE).is_file()
        try:
            url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
            api.upload_folder(repo_id=repo_id, folder_path=folder, repo_type="model",
                              commit_message=commit_message or f"Add ESM {esm_id} (stepstone)")
        except Exception as err:  # auth, network, permissions: one clear line
            raise HubError(f"pushing {esm_id} to {repo_id} failed: {err}") from err
    return str(url)
