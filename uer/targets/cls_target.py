"""Sentence classification as a pre-training target."""
from argparse import Namespace
from typing import Dict

import torch
import torch.nn as nn

from uer.targets import TARGETS
from uer.targets.common import classification_stats, total_loss
from uer.utils.pooling import pool


@TARGETS.register("cls")
class ClsTarget(nn.Module):
    """pooling -> tanh(``linear_1``) -> ``linear_2`` over ``--labels_num`` classes."""

    loss_labels = {"cls": "tgt"}

    def __init__(self, hidden_size: int, labels_num: int, pooling: str):
        super().__init__()
        self.pooling = pooling
        self.linear_1 = nn.Linear(hidden_size, hidden_size)
        self.linear_2 = nn.Linear(hidden_size, labels_num)

    @classmethod
    def from_args(cls, args: Namespace) -> "ClsTarget":
        if not getattr(args, "labels_num", None):
            raise ValueError("--target cls needs --labels_num")
        return cls(args.hidden_size, args.labels_num, args.pooling)

    def forward(self, memory_bank: torch.Tensor, batch: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        pooled = pool(memory_bank, batch["seg"], self.pooling)
        logits = self.linear_2(torch.tanh(self.linear_1(pooled)))
        return total_loss(classification_stats(logits, batch["tgt"], "cls"))
