"""The model class of a handed-over model folder (copied into it as ``modeling_stepstone.py``).

stepstone's classifier reads the pooled sentence embedding it ranks with (mean pooling for
sentence-transformers models), which no built-in ``*ForSequenceClassification`` class does, so
the folder carries this short class and ``config.json`` maps ``AutoModelForSequenceClassification``
to it: the user loads it with ``trust_remote_code`` enabled (stepstone itself never does). This
file must import nothing from stepstone.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import AutoModel, PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput


class StepstoneForSequenceClassification(PreTrainedModel):
    """Encoder -> pooled embedding (``config.stepstone_pooling``: mean, cls or pooler) ->
    dropout -> linear head, as stepstone fine-tuned it. Regression outputs are on the labels'
    own scale (the training standardisation is folded into the head)."""

    config_class = PretrainedConfig
    #: the encoder's own prefix (``bert`` for MiniLM), written in when the folder is made: the
    #: weights are then named as in the encoder's own checkpoints, so ``AutoModel`` loads the
    #: fine-tuned encoder from this folder without remote code
    base_model_prefix = "encoder"

    def __init__(self, config: PretrainedConfig) -> None:
        super().__init__(config)
        # config.json is the encoder's config
        setattr(self, self.base_model_prefix, AutoModel.from_config(config))
        self.dropout = nn.Dropout(getattr(config, "hidden_dropout_prob", 0.1))
        self.head = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None,
                **kwargs):
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            inputs["token_type_ids"] = token_type_ids
        output = self.base_model(**inputs)  # the attribute named base_model_prefix
        pooling = self.config.stepstone_pooling
        if pooling == "mean":
            mask = attention_mask.unsqueeze(-1).to(output.last_hidden_state.dtype)
            pooled = (output.last_hidden_state * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        elif pooling == "cls":
            pooled = output.last_hidden_state[:, 0]
        else:
            pooled = output.pooler_output
        logits = self.head(self.dropout(pooled))
        loss = None
        if labels is not None:
            if self.config.num_labels == 1:
                loss = nn.functional.mse_loss(logits.squeeze(-1), labels.float())
            else:
                loss = nn.functional.cross_entropy(logits, labels)
        return SequenceClassifierOutput(loss=loss, logits=logits)
