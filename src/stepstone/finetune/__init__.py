"""Fine-tune a base model on a task (classification or regression head); transfer between tasks."""

from .model import SequenceModel, TrainingLog, TunedModel
from .train import FineTuneConfig, fine_tune, length_grouped_batches, predict, seed_everything

__all__ = ["FineTuneConfig", "SequenceModel", "TrainingLog", "TunedModel", "fine_tune",
           "length_grouped_batches", "predict", "seed_everything"]
