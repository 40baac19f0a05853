"""Every exception stepstone raises on purpose.

Each error subclasses a builtin as well (``ValueError``, ``FileNotFoundError``...), so callers that
already catch the builtin keep working, and each message names the file, row, column or option at
fault and says how to fix it.
"""

from __future__ import annotations


class StepstoneError(Exception):
    """Base class of all stepstone errors."""


class InvalidOptionError(StepstoneError, ValueError):
    """A string option is not one of the accepted values (the message lists them)."""


# --- data -------------------------------------------------------------------------------------


class DataError(StepstoneError, ValueError):
    """A dataset cannot be used as given: wrong columns, labels or texts."""


class DatasetNotFoundError(DataError, FileNotFoundError):
    """The dataset path does not exist (and is not a Hugging Face dataset id)."""


class ColumnNotFoundError(DataError):
    """A requested column is not in the dataset."""


class LabelError(DataError):
    """Labels are missing, of mixed types, or too few distinct values to learn from."""


class EmptyTextError(DataError):
    """A text (or text pair) is empty or not a string."""


# --- models and embeddings ----------------------------------------------------------------------


class ModelLoadError(StepstoneError, OSError):
    """A base or tuned model cannot be loaded."""


# --- ESMs and hubs ------------------------------------------------------------------------------


class ESMError(StepstoneError, ValueError):
    """An ESM folder is broken: missing or invalid files, wrong shapes, non-finite weights."""


class IncompatibleESMError(ESMError):
    """An ESM was made for another base model or embedding size than the one in use."""


class HubError(StepstoneError):
    """A hub folder or its catalog cannot be used."""


class ESMNotFoundError(HubError, KeyError):
    """No ESM with the requested id is in the hub."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "ESM not found"


class ESMExistsError(HubError, FileExistsError):
    """An ESM with this id is already in the hub (pass overwrite=True to replace it)."""


# --- scores, ranking, benchmarks ------------------------------------------------------------------


class ScoreError(StepstoneError, ValueError):
    """A score cannot be computed for these inputs (e.g. a classification-only score on a
    regression target)."""


class UnsupportedTargetError(ScoreError):
    """The score does not apply to this kind of target (a classification-only score on a
    regression target): not a fault of the data, so benchmarks skip such pairs quietly."""


class FormatError(StepstoneError, ValueError):
    """A saved result (a ranking's JSON) is in a format version this stepstone cannot read."""


class BenchmarkError(StepstoneError, ValueError):
    """A benchmark grid or results file is inconsistent."""


class AdviceError(StepstoneError, ValueError):
    """An advice model (predicted gain) cannot be used: unreadable, or made for another hub,
    base model or embedding."""


# --- transfer -----------------------------------------------------------------------------------


class TransferError(StepstoneError, ValueError):
    """``stepstone transfer`` cannot run as asked: a target too small to hold out an evaluation
    set, no usable candidate, or a work folder started with other settings."""


class SourceDataError(DatasetNotFoundError):
    """A candidate source's training data cannot be found where its ESM says they came from."""
