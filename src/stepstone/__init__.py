"""stepstone: pick the dataset to fine-tune on before your own task.

Embedding Space Maps (ESMs) imitate what fine-tuning on a source dataset does to a base model's
sentence embeddings; ESM-LogME ranks a whole hub of them for a target in seconds.
"""

from __future__ import annotations

from importlib import metadata as _metadata

from . import _moved

try:
    __version__ = _metadata.version("stepstone")
except _metadata.PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+source"

_LAZY = {
    "TaskData": "stepstone.data", "TaskType": "stepstone.data", "load_task": "stepstone.data",
    "Encoder": "stepstone.encode", "ESM": "stepstone.esm", "load_esm": "stepstone.esm",
    "save_esm": "stepstone.esm", "Hub": "stepstone.hub", "build_hub": "stepstone.build",
    "BuildConfig": "stepstone.build", "FineTuneConfig": "stepstone.finetune",
    "fine_tune": "stepstone.finetune", "logme": "stepstone.scores",
    "esm_logme": "stepstone.scores", "Ranking": "stepstone.rank",
    "rank_sources": "stepstone.rank", "transfer": "stepstone.transfer",
    "TransferResult": "stepstone.transfer",
}

__all__ = ["__version__", *_LAZY]

_moved.install()  # old paths of moved modules (stepstone.hub.build...) keep working


def __getattr__(name: str):
    # heavy imports (torch, transformers) only when used: `stepstone --help` stays fast
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'stepstone' has no attribute {name!r}")
