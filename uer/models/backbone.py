"""The shared part of every fine-tuning head: ``embedding`` + ``encoder`` under UER-py's key names.

A head subclasses :class:`EncoderHead`, adds its output layers and lists their state-dict
prefixes in ``head_prefixes`` so that inference can refuse a checkpoint whose head was never
trained (see :func:`uer.finetune.checkpoint.load_for_inference`).
"""
from argparse import Namespace
from typing import Dict, Tuple

import torch
import torch.nn as nn

from uer.model_builder import build_embedding_encoder, init_weights


class EncoderHead(nn.Module):
    """``self.embedding`` and ``self.encoder`` keep the ``embedding.*``/``encoder.*`` keys of UER-py."""

    head_prefixes: Tuple[str, ...] = ()

    def __init__(self, embedding: nn.Module, encoder: nn.Module):
        super().__init__()
        self.embedding = embedding
        self.encoder = encoder

    @staticmethod
    def backbone(args: Namespace, vocab_size: int) -> Tuple[nn.Module, nn.Module]:
        return build_embedding_encoder(args, vocab_size)

    def init_weights(self) -> "EncoderHead":
        """BERT-style N(0, 0.02) for every linear and embedding; a pre-trained load then overwrites."""
        init_weights(self)
        return self

    def encode(self, batch: Dict[str, torch.Tensor]) -> torch.Tensor:
        """``src``/``seg`` [batch_size x seq_length] -> [batch_size x seq_length x hidden_size]."""
        seg = batch["seg"]
        return self.encoder(self.embedding(batch["src"], seg), seg)
