"""Extractive question answering head (run_cmrc): start and end scores for every token."""
from argparse import Namespace
from typing import Dict

import torch
import torch.nn as nn
import torch.nn.functional as F

from uer.layers.masks import BLOCKED
from uer.models.backbone import EncoderHead


class MachineReadingComprehension(EncoderHead):
    """Span extraction as in BERT's SQuAD head (Devlin et al., 2019): ``output_layer`` [2 x hidden]
    gives every token a start score (row 0) and an end score (row 1), the keys of UER-py's head.

    Batch keys: ``src``, ``seg`` [batch_size x seq_length]; optional ``start_position`` and
    ``end_position`` [batch_size] (token positions; 0, the ``[CLS]``, when the answer is not in
    the window) add ``loss``, the mean of the two cross-entropies. Returns ``start_logits`` and
    ``end_logits`` [batch_size x seq_length] (float32; padding positions get -10000).
    """

    head_prefixes = ("output_layer.",)

    def __init__(self, embedding: nn.Module, encoder: nn.Module, hidden_size: int):
        super().__init__(embedding, encoder)
        self.output_layer = nn.Linear(hidden_size, 2)

    @classmethod
    def from_args(cls, args: Namespace, vocab_size: int) -> "MachineReadingComprehension":
        embedding, encoder = cls.backbone(args, vocab_size)
        return cls(embedding, encoder, args.hidden_size).init_weights()

    def forward(self, batch: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        logits = self.output_layer(self.encode(batch)).float()
        padding = (batch["seg"] == 0).unsqueeze(-1)
        start_logits, end_logits = logits.masked_fill(padding, BLOCKED).unbind(dim=-1)
        out = {"start_logits": start_logits, "end_logits": end_logits}
        if "start_position" in batch:
            out["loss"] = (F.cross_entropy(start_logits, batch["start_position"]) +
                           F.cross_entropy(end_logits, batch["end_position"])) / 2
        return out
