"""Sentence and sentence-pair classification head (run_classifier, _cv, dbqa and their inference)."""
from argparse import Namespace
from typing import Dict, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from uer.models.backbone import EncoderHead
from uer.utils.pooling import pool


def classification_loss(logits: torch.Tensor, tgt: torch.Tensor, soft_tgt: Optional[torch.Tensor] = None,
                        soft_alpha: float = 0.5) -> torch.Tensor:
    """Cross-entropy on ``tgt`` [batch_size]; with teacher logits ``soft_tgt`` [batch_size x labels_num]
    (distillation) ``soft_alpha * MSE(logits, soft_tgt) + (1 - soft_alpha) * CE``."""
    logits = logits.float()
    loss = F.cross_entropy(logits, tgt)
    if soft_tgt is not None:
        loss = soft_alpha * F.mse_loss(logits, soft_tgt.float()) + (1.0 - soft_alpha) * loss
    return loss


class Classifier(EncoderHead):
    """pool -> tanh(``output_layer_1``) -> ``output_layer_2``, as BERT's classifier (Devlin et al., 2019).

    Batch keys: ``src``, ``seg`` [batch_size x seq_length]; optional ``tgt`` [batch_size] (adds
    ``loss``) and ``soft_tgt`` [batch_size x labels_num] (teacher logits). Returns ``logits``
    [batch_size x labels_num].
    """

    head_prefixes = ("output_layer_1.", "output_layer_2.")

    def __init__(self, embedding: nn.Module, encoder: nn.Module, hidden_size: int, labels_num: int,
                 pooling: str = "first", soft_alpha: float = 0.5):
        super().__init__(embedding, encoder)
        self.labels_num = labels_num
        self.pooling = pooling
        self.soft_alpha = soft_alpha
        self.output_layer_1 = nn.Linear(hidden_size, hidden_size)
        self.output_layer_2 = nn.Linear(hidden_size, labels_num)

    @classmethod
    def from_args(cls, args: Namespace, vocab_size: int, labels_num: int) -> "Classifier":
        embedding, encoder = cls.backbone(args, vocab_size)
        return cls(embedding, encoder, args.hidden_size, labels_num, args.pooling,
                   getattr(args, "soft_alpha", 0.5)).init_weights()

    def forward(self, batch: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        hidden = self.encode(batch)
        pooled = pool(hidden, batch["seg"], self.pooling)
        logits = self.output_layer_2(torch.tanh(self.output_layer_1(pooled)))
        out = {"logits": logits}
        if "tgt" in batch:
            out["loss"] = classification_loss(logits, batch["tgt"], batch.get("soft_tgt"), self.soft_alpha)
        return out
