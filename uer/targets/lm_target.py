"""Language model targets: lm (GPT-2, LSTM/GatedCNN LMs), prefixlm, bilm (ELMo)."""
from argparse import Namespace
from typing import Dict

import torch
import torch.nn as nn

from uer.targets import TARGETS
from uer.targets.common import token_stats, total_loss


@TARGETS.register("lm")
class LmTarget(nn.Module):
    """Next-token prediction with ``output_layer`` (bias only with ``--has_lmtarget_bias``)."""

    loss_labels = {"lm": "tgt"}
    tied_layer = "output_layer"

    def __init__(self, hidden_size: int, vocab_size: int, bias: bool):
        super().__init__()
        self.output_layer = nn.Linear(hidden_size, vocab_size, bias=bias)

    @classmethod
    def from_args(cls, args: Namespace) -> "LmTarget":
        return cls(args.hidden_size, args.vocab_size, args.has_lmtarget_bias)

    def forward(self, memory_bank: torch.Tensor, batch: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """batch["tgt"]: [batch_size x seq_length] next-token ids, 0 = not predicted."""
        return total_loss(token_stats(memory_bank, batch["tgt"], self.output_layer, "lm"))


@TARGETS.register("prefixlm")
class PrefixLmTarget(LmTarget):
    """LM over the target part of ``prefix [SEP] target`` (use with ``--mask causal_with_prefix``)."""


@TARGETS.register("bilm")
class BilmTarget(nn.Module):
    """ELMo (Peters et al., 2018): the first half of the hidden state predicts the next token, the
    second half the previous one, through one shared ``output_layer`` of width hidden_size / 2."""

    loss_labels = {"forward": "tgt_forward", "backward": "tgt_backward"}

    def __init__(self, hidden_size: int, vocab_size: int, bias: bool):
        super().__init__()
        self.half = hidden_size // 2
        self.output_layer = nn.Linear(self.half, vocab_size, bias=bias)

    @classmethod
    def from_args(cls, args: Namespace) -> "BilmTarget":
        return cls(args.hidden_size, args.vocab_size, args.has_lmtarget_bias)

    def forward(self, memory_bank: torch.Tensor, batch: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        stats = token_stats(memory_bank[..., :self.half], batch["tgt_forward"], self.output_layer, "forward")
        stats.update(token_stats(memory_bank[..., self.half:], batch["tgt_backward"], self.output_layer, "backward"))
        return total_loss(stats)
