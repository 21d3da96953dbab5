"""Multi-task classification: one shared encoder, one two-layer head per dataset (run_mt_classifier)."""
from argparse import Namespace
from typing import Dict, Sequence

import torch
import torch.nn as nn

from uer.models.backbone import EncoderHead
from uer.models.classifier import classification_loss
from uer.utils.pooling import pool


class MultitaskClassifier(EncoderHead):
    """Heads ``output_layers_1.{t}`` / ``output_layers_2.{t}`` (Liu et al., 2019, MT-DNN style).

    Every batch belongs to one task: ``batch["task"]`` is that task's index (a Python int). Returns
    ``logits`` [batch_size x labels_num_t] and, with ``tgt``, ``loss``.
    """

    head_prefixes = ("output_layers_1.", "output_layers_2.")

    def __init__(self, embedding: nn.Module, encoder: nn.Module, hidden_size: int, labels_nums: Sequence[int],
                 pooling: str = "first"):
        super().__init__(embedding, encoder)
        self.labels_nums = list(labels_nums)
        self.pooling = pooling
        self.output_layers_1 = nn.ModuleList([nn.Linear(hidden_size, hidden_size) for _ in labels_nums])
        self.output_layers_2 = nn.ModuleList([nn.Linear(hidden_size, n) for n in labels_nums])

    @classmethod
    def from_args(cls, args: Namespace, vocab_size: int, labels_nums: Sequence[int]) -> "MultitaskClassifier":
        embedding, encoder = cls.backbone(args, vocab_size)
        return cls(embedding, encoder, args.hidden_size, labels_nums, args.pooling).init_weights()

    def forward(self, batch: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        task = int(batch["task"])
        hidden = self.encode(batch)
        pooled = pool(hidden, batch["seg"], self.pooling)
        logits = self.output_layers_2[task](torch.tanh(self.output_layers_1[task](pooled)))
        out = {"logits": logits}
        if "tgt" in batch:
            out["loss"] = classification_loss(logits, batch["tgt"])
        return out
