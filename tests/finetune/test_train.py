from __future__ import annotations

import numpy as np
import pytest
import torch

from stepstone.errors import ModelLoadError
from stepstone.finetune import (FineTuneConfig, TunedModel, fine_tune, length_grouped_batches,
                                predict)

FAST = FineTuneConfig(epochs=6, batch_size=8, learning_rate=1e-3)


def test_classification_fine_tuning_learns(tiny_bert, toy_task):
    tuned = fine_tune(toy_task, model_name=tiny_bert, pooling="mean", config=FAST)
    losses = tuned.log.epoch_losses
    assert len(losses) == 6 and losses[-1] < 0.5 * losses[0]
    accuracy = (predict(tuned, toy_task) == toy_task.labels).mean()
    assert accuracy >= 0.9
    assert tuned.log.steps == 6 * 8 and tuned.log.examples_seen == 6 * 64


def test_regression_fine_tuning_learns_on_the_label_scale(tiny_bert, toy_regression_task):
    tuned = fine_tune(toy_regression_task, model_name=tiny_bert, pooling="mean", config=FAST)
    pred = predict(tuned, toy_regression_task)
    # labels are ~1 or ~4: predictions come back on that scale, not standardised
    assert np.corrcoef(pred, toy_regression_task.labels)[0, 1] > 0.9
    assert abs(pred.mean() - toy_regression_task.labels.mean()) < 0.5
    assert tuned.label_scale > 1.0


def test_fine_tuning_does_not_touch_the_base_model(tiny_bert, toy_task):
    from stepstone.encode import Encoder

    before = Encoder(tiny_bert, pooling="mean", cache=False).embed(toy_task.texts[:5])
    fine_tune(toy_task, model_name=tiny_bert, pooling="mean", config=FineTuneConfig(epochs=1))
    after = Encoder(tiny_bert, pooling="mean", cache=False).embed(toy_task.texts[:5])
    np.testing.assert_array_equal(before, after)


def test_same_seed_same_model(tiny_bert, toy_task):
    config = FineTuneConfig(epochs=1, batch_size=16, learning_rate=1e-3, seed=3)
    a = fine_tune(toy_task, model_name=tiny_bert, pooling="mean", config=config)
    b = fine_tune(toy_task, model_name=tiny_bert, pooling="mean", config=config)
    for pa, pb in zip(a.model.parameters(), b.model.parameters()):
        torch.testing.assert_close(pa, pb)


def test_save_and_load_round_trip(tiny_bert, toy_task, tmp_path):
    tuned = fine_tune(toy_task, model_name=tiny_bert, pooling="cls",
                      config=FineTuneConfig(epochs=1, batch_size=16, learning_rate=1e-3))
    folder = tuned.save(tmp_path / "model")
    assert not list(folder.rglob("*.bin")) and (folder / "tuned.json").is_file()
    loaded = TunedModel.load(folder)
    np.testing.assert_array_equal(predict(loaded, toy_task), predict(tuned, toy_task))
    assert loaded.spec == tuned.spec and loaded.log.steps == tuned.log.steps


def test_unfinished_save_is_not_loaded(tmp_path):
    (tmp_path / "encoder").mkdir()
    with pytest.raises(ModelLoadError, match="interrupted save"):
        TunedModel.load(tmp_path)


def test_transfer_starts_from_the_tuned_encoder(tiny_bert, toy_task, toy_regression_task):
    source = fine_tune(toy_task, model_name=tiny_bert, pooling="mean", config=FAST)
    target = fine_tune(toy_regression_task, start_from=source,
                       config=FineTuneConfig(epochs=1, learning_rate=0.0))
    # lr 0: the transferred encoder is exactly the source's, the head is new (1 output)
    for ps, pt in zip(source.model.encoder.parameters(), target.model.encoder.parameters()):
        torch.testing.assert_close(ps, pt)
    assert target.model.head.out_features == 1


def test_length_grouped_batches_cover_every_example_once():
    rng = np.random.default_rng(0)
    lengths = list(rng.integers(1, 100, 203))
    batches = length_grouped_batches(lengths, 16, rng, group=3)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(203))
    assert all(len(b) <= 16 for b in batches)
    # within a batch lengths are close: sorted inside groups of 3 batches
    spread = np.mean([np.ptp([lengths[i] for i in b]) for b in batches])
    assert spread < np.ptp(lengths) / 2
