"""Multiple-choice head (run_c3, run_chid): one score per (question, choice) input."""
from argparse import Namespace
from typing import Dict

import torch
import torch.nn as nn
import torch.nn.functional as F

from uer.layers.masks import BLOCKED
from uer.models.backbone import EncoderHead
from uer.utils.pooling import pool


class MultipleChoice(EncoderHead):
    """Scores every choice with ``output_layer`` [1 x hidden] on its pooled encoding (as BERT's
    SWAG head, Devlin et al., 2019) and normalises over the choices of a question.

    Batch keys: ``src``, ``seg`` [batch_size x choices_num x seq_length]; a choice whose row is all
    padding (``seg[:, c, 0] == 0``) does not exist: it is not encoded and gets -10000. Optional
    ``tgt`` [batch_size] (the gold choice) adds ``loss``. Returns ``logits`` [batch_size x choices_num].
    """

    head_prefixes = ("output_layer.",)

    def __init__(self, embedding: nn.Module, encoder: nn.Module, hidden_size: int, dropout: float = 0.1,
                 pooling: str = "first"):
        super().__init__(embedding, encoder)
        self.pooling = pooling
        self.dropout = nn.Dropout(dropout)
        self.output_layer = nn.Linear(hidden_size, 1)

    @classmethod
    def from_args(cls, args: Namespace, vocab_size: int) -> "MultipleChoice":
        embedding, encoder = cls.backbone(args, vocab_size)
        return cls(embedding, encoder, args.hidden_size, args.dropout, args.pooling).init_weights()

    def forward(self, batch: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        src, seg = batch["src"], batch["seg"]
        batch_size, choices_num, seq_length = src.shape
        src, seg = src.reshape(-1, seq_length), seg.reshape(-1, seq_length)
        real = seg[:, 0] > 0                                   # [batch_size * choices_num]
        src, seg = src[real], seg[real]
        hidden = self.encode({"src": src, "seg": seg})        # [real choices x seq_length x hidden_size]
        scores = self.output_layer(self.dropout(pool(hidden, seg, self.pooling))).squeeze(-1).float()
        logits = scores.new_full((batch_size * choices_num,), BLOCKED).masked_scatter(real, scores)
        logits = logits.view(batch_size, choices_num)
        out = {"logits": logits}
        if "tgt" in batch:
            out["loss"] = F.cross_entropy(logits, batch["tgt"])
        return out
