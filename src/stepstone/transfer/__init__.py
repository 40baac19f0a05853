"""Verify the leading sources on the user's own data and hand over the best model.

``transfer(target, ...)`` fine-tunes the base model through each candidate source (and without
one) on the target, with seeds and a time budget, and returns a :class:`TransferResult`; the
chosen model is written as a Hugging Face model folder (model_folder.py).
"""

from __future__ import annotations

import sys
import types

from .candidates import NO_TRANSFER, SourceRecipe
from .result import CandidateResult, TransferResult
from .run import TransferSettings, transfer

__all__ = ["NO_TRANSFER", "CandidateResult", "SourceRecipe", "TransferResult",
           "TransferSettings", "transfer"]


class _CallableModule(types.ModuleType):
    """Importing ``stepstone.transfer.run`` binds ``stepstone.transfer`` to this package, which
    would shadow the function of the same name; a callable package keeps
    ``stepstone.transfer(target, ...)`` working either way."""

    def __call__(self, *args, **kwargs) -> TransferResult:
        return transfer(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
