"""Word embedding plus fixed sinusoidal positions (Vaswani et al., 2017)."""
import math
from argparse import Namespace

import torch
import torch.nn as nn

from uer.embeddings import EMBEDDINGS


@EMBEDDINGS.register("word_sinusoidalpos")
class WordSinusoidalPosEmbedding(nn.Module):
    """``word * sqrt(E) + pe``; the table ``pe`` [max_seq_length x 1 x E] is a saved buffer (as in UER-py)."""

    def __init__(self, vocab_size: int, emb_size: int, max_seq_length: int, dropout: float):
        super().__init__()
        if emb_size % 2:
            raise ValueError(f"word_sinusoidalpos needs an even emb_size, got {emb_size}")
        self.emb_size = emb_size
        self.word_embedding = nn.Embedding(vocab_size, emb_size)
        position = torch.arange(max_seq_length, dtype=torch.float).unsqueeze(1)
        frequency = torch.exp(torch.arange(0, emb_size, 2, dtype=torch.float) * -(math.log(10000.0) / emb_size))
        pe = torch.zeros(max_seq_length, emb_size)
        pe[:, 0::2] = torch.sin(position * frequency)
        pe[:, 1::2] = torch.cos(position * frequency)
        self.register_buffer("pe", pe.unsqueeze(1))
        self.dropout = nn.Dropout(dropout)

    @classmethod
    def from_args(cls, args: Namespace) -> "WordSinusoidalPosEmbedding":
        return cls(args.vocab_size, args.emb_size, args.max_seq_length, args.dropout)

    def forward(self, src: torch.Tensor, seg: torch.Tensor, start_position: int = 0) -> torch.Tensor:
        """src: [batch_size x seq_length] -> [batch_size x seq_length x emb_size]."""
        seq_length = src.size(1)
        emb = self.word_embedding(src) * math.sqrt(self.emb_size)
        emb = emb + self.pe[start_position:start_position + seq_length].transpose(0, 1)
        return self.dropout(emb)
