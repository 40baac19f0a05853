"""A base encoder with a classification or regression head on its pooled sentence embedding,
and its safetensors + JSON storage."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .._failpoints import failpoint
from .._io import atomic_folder, write_json, write_safetensors
from ..encode.models import EmbeddingSpec, Pooling, pool
from ..errors import ModelLoadError

logger = logging.getLogger(__name__)

TUNED_META = "tuned.json"
HEAD_FILE = "head.safetensors"


class SequenceModel(nn.Module):
    """``encoder`` -> pooled embedding -> dropout -> linear head.

    The head reads the same pooled embedding that stepstone embeds with, so the ESM of a source
    imitates exactly the representation that fine-tuning shaped.
    """

    def __init__(self, encoder: nn.Module, *, pooling: Pooling, num_outputs: int,
                 dropout: float | None = None) -> None:
        super().__init__()
        self.encoder = encoder
        self.pooling = pooling
        hidden = int(encoder.config.hidden_size)
        rate = dropout if dropout is not None else getattr(encoder.config, "hidden_dropout_prob",
                                                           0.1)
        self.dropout = nn.Dropout(rate)
        self.head = nn.Linear(hidden, num_outputs)

    def embed(self, **batch: torch.Tensor) -> torch.Tensor:
        output = self.encoder(**batch)
        return pool(output.last_hidden_state, batch["attention_mask"],
                    getattr(output, "pooler_output", None), self.pooling)

    def forward(self, **batch: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.embed(**batch)))


@dataclass
class TrainingLog:
    """What happened during one fine-tuning run."""

    epochs: int = 0
    steps: int = 0
    examples_seen: int = 0
    seconds: float = 0.0
    epoch_losses: list[float] = field(default_factory=list)
    device: str = "cpu"

    @property
    def examples_per_second(self) -> float:
        return self.examples_seen / self.seconds if self.seconds else 0.0


@dataclass
class TunedModel:
    """A fine-tuned SequenceModel with its tokenizer and everything needed to reuse it.

    ``label_shift``/``label_scale`` standardise regression labels during training (so MSE works
    on any label scale); predictions are returned on the original scale.
    """

    model: SequenceModel
    tokenizer: Any
    spec: EmbeddingSpec
    task: dict[str, Any]
    config: dict[str, Any]
    log: TrainingLog
    label_shift: float = 0.0
    label_scale: float = 1.0

    @property
    def is_regression(self) -> bool:
        return self.task.get("task_type") == "regression"

    def save(self, folder: str | Path) -> Path:
        """Write ``encoder/`` (transformers safetensors), tokenizer, head and ``tuned.json``.

        The folder is written under a temporary name and renamed into place, so a crash never
        leaves a half-saved model under ``folder`` (and ``tuned.json``, written last, marks a
        complete save for older folders).
        """
        folder = Path(folder)
        with atomic_folder(folder) as tmp:
            self.model.encoder.save_pretrained(tmp / "encoder", safe_serialization=True)
            failpoint("tuned-save", folder.name)
            self.tokenizer.save_pretrained(tmp / "encoder")
            head = {k: v.detach().cpu().numpy() for k, v in self.model.head.state_dict().items()}
            write_safetensors(tmp / HEAD_FILE, head)
            meta = {"spec": self.spec.to_dict(), "task": self.task, "config": self.config,
                    "log": asdict(self.log), "label_shift": self.label_shift,
                    "label_scale": self.label_scale}
            write_json(tmp / TUNED_META, meta)
        return folder

    @classmethod
    def load(cls, folder: str | Path, *, device: str | torch.device | None = None) -> TunedModel:
        """Load a model saved by :meth:`save` (safetensors and JSON only: nothing in it can run code)."""
        from safetensors.torch import load_file
        from transformers import AutoModel, AutoTokenizer

        folder = Path(folder)
        meta_path = folder / TUNED_META
        if not meta_path.is_file():
            raise ModelLoadError(f"{folder} is not a saved tuned model (no {TUNED_META}); it may "
                                 "be an interrupted save: delete it and fine-tune again.")
        meta = json.loads(meta_path.read_text())
        spec = EmbeddingSpec.from_dict(meta["spec"])
        try:
            encoder = AutoModel.from_pretrained(folder / "encoder", use_safetensors=True)
            tokenizer = AutoTokenizer.from_pretrained(folder / "encoder")
            head = load_file(str(folder / HEAD_FILE))
        except Exception as err:
            raise ModelLoadError(f"cannot load the tuned model in {folder}: {err}") from err
        model = SequenceModel(encoder, pooling=spec.pooling, num_outputs=head["weight"].shape[0])
        model.head.load_state_dict(head)
        if device is not None:
            model.to(device)
        log = TrainingLog(**meta.get("log", {}))
        return cls(model=model, tokenizer=tokenizer, spec=spec, task=meta["task"],
                   config=meta["config"], log=log, label_shift=meta.get("label_shift", 0.0),
                   label_scale=meta.get("label_scale", 1.0))

    @staticmethod
    def is_saved(folder: str | Path) -> bool:
        return (Path(folder) / TUNED_META).is_file()


def standardisation(labels: np.ndarray) -> tuple[float, float]:
    """Shift and scale that give regression labels mean 0 and standard deviation 1."""
    scale = float(labels.std())
    return float(labels.mean()), scale if scale > 0 else 1.0

