"""``stepstone transfer`` with the real MiniLM, the bundled hub and a pool task, at tiny sizes
(tens of examples, one epoch): the fresh ranking picks the candidate, its source model is
fine-tuned with a cut-down recipe, and the chosen model folder predicts the target's labels."""

from __future__ import annotations

import pytest

from stepstone.finetune import FineTuneConfig
from stepstone.transfer import NO_TRANSFER, TransferSettings, transfer
from tests.helpers import SHARED_DATASETS, requires_shared

pytestmark = [pytest.mark.integration, requires_shared]


def test_transfer_with_minilm_on_a_pool_task(tmp_path):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    settings = TransferSettings(seeds=(42, 43), num_examples=40, eval_examples=40,
                                finetune=FineTuneConfig(epochs=1, learning_rate=1e-4),
                                source_examples=40, source_epochs=1)
    result = transfer(SHARED_DATASETS / "tweeteval_irony", top=1, work_dir=tmp_path / "work",
                      settings=settings, show_progress=False)
    assert [c.source for c in result.candidates][0] == NO_TRANSFER
    source = result.candidates[1]
    assert source.rank == 1 and source.status == "measured" and len(source.seeds) == 2
    assert result.evaluation["source"] == "validation split" and result.evaluation["examples"] == 40
    assert (tmp_path / "work" / "source-models").is_dir()
    model = AutoModelForSequenceClassification.from_pretrained(result.model_path,
                                                               trust_remote_code=True)
    tokenizer = AutoTokenizer.from_pretrained(result.model_path)
    logits = model(**tokenizer(["what a lovely monday, stuck in traffic again"],
                               return_tensors="pt")).logits
    assert logits.shape == (1, 2)
    assert set(model.config.id2label.values()) == set(result.target["label_names"])
