"""Hand over a fine-tuned model as a Hugging Face model folder, with how it was made.

The folder holds ``model.safetensors``, ``config.json`` (the encoder's config plus ``id2label``/
``label2id``, the pooling and an ``auto_map`` to ``modeling_stepstone.py``), the tokenizer and
``stepstone_transfer.json`` (target, source, seeds, scores, stepstone version). It is written
under a temporary name and renamed into place, so a full disk or a killed process never leaves a
half-written model folder.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import torch

from .._io import atomic_folder, write_json, write_text
from ..finetune.model import TunedModel

logger = logging.getLogger(__name__)

MODELING_FILE = "modeling_stepstone.py"
RECORD_FILE = "stepstone_transfer.json"
CLASS_NAME = "StepstoneForSequenceClassification"
#: The line of hf_modeling.py that names the config class (AutoModel*.register requires the
#: model's config_class to be the class of the folder's config.json).
_CONFIG_IMPORT = "from transformers import AutoModel, PretrainedConfig, PreTrainedModel"


def modeling_source(config_class: str, prefix: str = "encoder") -> str:
    """hf_modeling.py with ``config_class`` set to the encoder's config class and the encoder
    attribute named ``prefix`` (the encoder class's ``base_model_prefix``)."""
    text = (Path(__file__).with_name("hf_modeling.py")).read_text(encoding="utf-8")
    text = _substitute(text, 'base_model_prefix = "encoder"', f"base_model_prefix = {prefix!r}")
    if config_class != "PretrainedConfig":
        text = _substitute(text, _CONFIG_IMPORT,
                           _CONFIG_IMPORT + f"\nfrom transformers import {config_class}")
        text = _substitute(text, "config_class = PretrainedConfig",
                           f"config_class = {config_class}")
    return text


def _substitute(text: str, line: str, replacement: str) -> str:
    """Replace the one occurrence of ``line``; an edit of hf_modeling.py that renames it must not
    turn the substitution into a silent no-op (the folder would load the wrong class)."""
    if text.count(line) != 1:
        raise AssertionError(f"hf_modeling.py must contain {line!r} exactly once")
    return text.replace(line, replacement)


def folded_head(tuned: TunedModel) -> dict[str, torch.Tensor]:
    """The head with the regression standardisation folded in: outputs on the labels' scale."""
    weight = tuned.model.head.weight.detach().cpu().clone()
    bias = tuned.model.head.bias.detach().cpu().clone()
    if tuned.is_regression:
        weight, bias = weight * tuned.label_scale, bias * tuned.label_scale + tuned.label_shift
    return {"head.weight": weight.contiguous(), "head.bias": bias.contiguous()}


def hf_config(tuned: TunedModel) -> dict[str, Any]:
    """config.json: the encoder's config plus the labels, the pooling and the class to load."""
    encoder_config = tuned.model.encoder.config
    config = encoder_config.to_dict()
    names = tuned.task.get("label_names")
    if tuned.is_regression:
        names = [tuned.task.get("name", "score")]
        config["problem_type"] = "regression"
    else:
        names = names or [str(i) for i in range(tuned.model.head.out_features)]
        config["problem_type"] = "single_label_classification"
    config.update({
        "architectures": [CLASS_NAME],
        "auto_map": {"AutoModelForSequenceClassification": f"{MODELING_FILE[:-3]}.{CLASS_NAME}"},
        "id2label": {str(i): n for i, n in enumerate(names)},
        "label2id": {n: i for i, n in enumerate(names)},
        "stepstone_pooling": tuned.spec.pooling.value,
        "stepstone_max_length": tuned.spec.max_length,
    })
    return config


def encoder_prefix(tuned: TunedModel) -> str:
    """The encoder class's ``base_model_prefix`` ("bert" for MiniLM; "encoder" if it has none)."""
    return getattr(tuned.model.encoder, "base_model_prefix", "") or "encoder"


def write_model_folder(tuned: TunedModel, folder: str | Path, record: dict[str, Any]) -> Path:
    """Write ``tuned`` as a model folder that
    ``AutoModelForSequenceClassification.from_pretrained`` loads with ``trust_remote_code``
    enabled (the package itself never loads a model that way);
    ``record`` (how it was made) goes to ``stepstone_transfer.json``."""
    from safetensors.torch import save_file

    folder = Path(folder)
    config = hf_config(tuned)
    # the encoder's weights under its own prefix ("bert." for MiniLM), as in its checkpoints:
    # AutoModel.from_pretrained(folder) then loads the fine-tuned encoder without remote code
    prefix = encoder_prefix(tuned)
    tensors = {f"{prefix}.{k}": v.detach().cpu().clone().contiguous()
               for k, v in tuned.model.encoder.state_dict().items()}
    tensors.update(folded_head(tuned))
    with atomic_folder(folder) as tmp:
        save_file(tensors, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        _readable(tmp / "model.safetensors")
        write_json(tmp / "config.json", config)
        write_text(tmp / MODELING_FILE,
                   modeling_source(type(tuned.model.encoder.config).__name__, prefix))
        tuned.tokenizer.model_max_length = tuned.spec.max_length
        tuned.tokenizer.save_pretrained(tmp)
        write_json(tmp / RECORD_FILE, record)
    logger.info("wrote the chosen model to %s", folder)
    return folder


def _readable(path: Path) -> None:
    """safetensors writes through a private temporary file (mode 0600); give the weights the
    mode every other file of the folder gets, so a shared model folder is readable."""
    mask = os.umask(0)
    os.umask(mask)
    path.chmod(0o666 & ~mask)


def read_record(folder: str | Path) -> dict[str, Any]:
    return json.loads((Path(folder) / RECORD_FILE).read_text())
