"""Masked language model targets: mlm (RoBERTa), bert (+ next sentence), albert (+ sentence order)."""
from argparse import Namespace
from typing import Dict

import torch
import torch.nn as nn

from uer.layers.layer_norm import LayerNorm
from uer.targets import TARGETS
from uer.targets.common import classification_stats, token_stats, total_loss
from uer.utils.act_fun import get_activation


@TARGETS.register("mlm")
class MlmTarget(nn.Module):
    """MLM head of Devlin et al. (2019): ``mlm_linear_1``, act, ``layer_norm``, ``mlm_linear_2`` -> vocab.

    With factorized embeddings (ALBERT) the head projects to emb_size before the vocabulary.
    """

    tied_layer = "mlm_linear_2"
    loss_labels = {"mlm": "tgt_mlm"}  # part -> the batch key of its labels (see targets.common)

    def __init__(self, args: Namespace):
        super().__init__()
        width = args.emb_size if args.factorized_embedding_parameterization else args.hidden_size
        self.mlm_linear_1 = nn.Linear(args.hidden_size, width)
        self.act = get_activation(args.hidden_act)
        self.layer_norm = LayerNorm(width, args.layernorm_eps)
        self.mlm_linear_2 = nn.Linear(width, args.vocab_size)

    @classmethod
    def from_args(cls, args: Namespace) -> "MlmTarget":
        return cls(args)

    def mlm_transform(self, hidden: torch.Tensor) -> torch.Tensor:
        """hidden: [... x hidden_size] -> the input of ``mlm_linear_2`` [... x width]."""
        return self.layer_norm(self.act(self.mlm_linear_1(hidden)))

    def mlm_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """hidden: [... x hidden_size] -> [... x vocab_size]."""
        return self.mlm_linear_2(self.mlm_transform(hidden))

    def mlm_stats(self, memory_bank: torch.Tensor, tgt_mlm: torch.Tensor) -> Dict[str, torch.Tensor]:
        return token_stats(memory_bank, tgt_mlm, self.mlm_linear_2, "mlm", transform=self.mlm_transform)

    def forward(self, memory_bank: torch.Tensor, batch: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        return total_loss(self.mlm_stats(memory_bank, batch["tgt_mlm"]))


class _SentencePairTarget(MlmTarget):
    """MLM plus a two-way classifier on the first token ([CLS]) through a tanh pooler."""

    pair_prefix = ""
    loss_labels = {"mlm": "tgt_mlm", "sp": "is_next"}

    def __init__(self, args: Namespace):
        super().__init__(args)
        setattr(self, f"{self.pair_prefix}_linear_1", nn.Linear(args.hidden_size, args.hidden_size))
        setattr(self, f"{self.pair_prefix}_linear_2", nn.Linear(args.hidden_size, 2))

    def pair_logits(self, memory_bank: torch.Tensor) -> torch.Tensor:
        """memory_bank: [batch_size x seq_length x hidden_size] -> [batch_size x 2]."""
        pooled = torch.tanh(getattr(self, f"{self.pair_prefix}_linear_1")(memory_bank[:, 0]))
        return getattr(self, f"{self.pair_prefix}_linear_2")(pooled)

    def forward(self, memory_bank: torch.Tensor, batch: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        stats = self.mlm_stats(memory_bank, batch["tgt_mlm"])
        stats.update(classification_stats(self.pair_logits(memory_bank), batch["is_next"], "sp"))
        return total_loss(stats)


@TARGETS.register("bert")
class BertTarget(_SentencePairTarget):
    """MLM + next sentence prediction (``nsp_linear_1`` = BERT's pooler, ``nsp_linear_2``)."""

    pair_prefix = "nsp"


@TARGETS.register("albert")
class AlbertTarget(_SentencePairTarget):
    """MLM + sentence order prediction (Lan et al., 2020): ``sop_linear_1``, ``sop_linear_2``."""

    pair_prefix = "sop"
