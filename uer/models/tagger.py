"""Sequence tagging head (run_ner): per-token ``output_layer``, softmax or CRF (``--crf_target``)."""
from argparse import Namespace
from typing import Dict

import torch
import torch.nn as nn
import torch.nn.functional as F

from uer.models.backbone import EncoderHead
from uer.models.crf import CRF


class Tagger(EncoderHead):
    """Tags every token. ``output_layer`` has ``tags_num + 1`` rows, as UER-py's NER head (the last row
    was its ``[PAD]`` label); that row is never trained nor predicted, it only keeps checkpoints
    interchangeable. With ``use_crf`` a :class:`CRF` (keys ``crf.*``) scores whole tag sequences.

    Batch keys: ``src``, ``seg`` [batch_size x seq_length]; optional ``tgt`` [batch_size x seq_length]
    (tag ids; ignored where ``seg == 0``). Returns ``pred`` [batch_size x seq_length] tag ids and,
    with ``tgt``, ``loss`` (per real token: mean cross-entropy, or the CRF's negative
    log-likelihood divided by the number of real tokens).
    """

    head_prefixes = ("output_layer.",)

    def __init__(self, embedding: nn.Module, encoder: nn.Module, hidden_size: int, tags_num: int,
                 use_crf: bool = False):
        super().__init__(embedding, encoder)
        self.tags_num = tags_num
        self.output_layer = nn.Linear(hidden_size, tags_num + 1)
        self.crf = CRF(tags_num) if use_crf else None
        if use_crf:
            self.head_prefixes = self.head_prefixes + ("crf.",)

    @classmethod
    def from_args(cls, args: Namespace, vocab_size: int, tags_num: int) -> "Tagger":
        embedding, encoder = cls.backbone(args, vocab_size)
        return cls(embedding, encoder, args.hidden_size, tags_num, bool(getattr(args, "crf_target", False))).init_weights()

    def forward(self, batch: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        mask = batch["seg"] > 0
        emissions = self.output_layer(self.encode(batch))[..., :self.tags_num].float()
        out: Dict[str, torch.Tensor] = {}
        if "tgt" in batch:
            tgt = batch["tgt"]
            tokens = mask.sum().clamp(min=1)
            if self.crf is not None:
                out["loss"] = self.crf.neg_log_likelihood(emissions, tgt, mask) / tokens
            else:
                losses = F.cross_entropy(emissions.transpose(1, 2), tgt, reduction="none")
                out["loss"] = (losses * mask).sum() / tokens
        if not self.training:
            out["pred"] = self.crf.decode(emissions, mask) if self.crf is not None else emissions.argmax(dim=-1)
        return out
