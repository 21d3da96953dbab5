"""Recurrent encoders: rnn / lstm / gru (optionally ``--bidirectional``) and birnn / bilstm / bigru.

The bi* encoders run two independent stacks (``rnn_forward``, ``rnn_backward``) as ELMo does, so
that the forward half of the output never sees the future and can be trained as a language model.
Unlike the original, the backward direction runs over the real tokens only (padding is not read
before the sentence).
"""
from argparse import Namespace

import torch
import torch.nn as nn

from uer.encoders import ENCODERS

_CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def reverse_real_tokens(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each row's first ``lengths[b]`` steps of x [batch_size x seq_length x dim], padding stays put."""
    seq_length = x.size(1)
    steps = torch.arange(seq_length, device=x.device).unsqueeze(0)
    lengths = lengths.unsqueeze(1)
    index = torch.where(steps < lengths, lengths - 1 - steps, steps)
    return x.gather(1, index.unsqueeze(-1).expand(-1, -1, x.size(2)))


class RnnEncoder(nn.Module):
    """One torch RNN named ``rnn`` (keys ``encoder.rnn.weight_ih_l{k}`` ...)."""

    cell = "rnn"

    def __init__(self, emb_size: int, hidden_size: int, layers_num: int, dropout: float, bidirectional: bool):
        super().__init__()
        if bidirectional and hidden_size % 2:
            raise ValueError(f"--bidirectional needs an even hidden_size, got {hidden_size}")
        self.bidirectional = bidirectional
        self.rnn = _CELLS[self.cell](emb_size, hidden_size // 2 if bidirectional else hidden_size,
                                     num_layers=layers_num, dropout=dropout if layers_num > 1 else 0.0,
                                     batch_first=True, bidirectional=bidirectional)
        self.dropout = nn.Dropout(dropout)

    @classmethod
    def from_args(cls, args: Namespace) -> "RnnEncoder":
        return cls(args.emb_size, args.hidden_size, args.layers_num, args.dropout, args.bidirectional)

    def forward(self, emb: torch.Tensor, seg: torch.Tensor) -> torch.Tensor:
        """emb: [batch_size x seq_length x emb_size] -> [batch_size x seq_length x hidden_size]."""
        real = seg > 0
        if self.bidirectional and not bool(real.all()):
            lengths = real.sum(dim=1).clamp(min=1).cpu()
            packed = nn.utils.rnn.pack_padded_sequence(emb, lengths, batch_first=True, enforce_sorted=False)
            output, _ = self.rnn(packed)
            output, _ = nn.utils.rnn.pad_packed_sequence(output, batch_first=True, total_length=emb.size(1))
        else:
            # Unidirectional: padding follows the real tokens, so it cannot affect them.
            output, _ = self.rnn(emb)
        return self.dropout(output)


@ENCODERS.register("lstm")
class LstmEncoder(RnnEncoder):
    cell = "lstm"


@ENCODERS.register("gru")
class GruEncoder(RnnEncoder):
    cell = "gru"


ENCODERS.register("rnn")(RnnEncoder)


class BiRnnEncoder(nn.Module):
    """Two unidirectional stacks of hidden_size/2, concatenated as [forward, backward]."""

    cell = "rnn"

    def __init__(self, emb_size: int, hidden_size: int, layers_num: int, dropout: float):
        super().__init__()
        if hidden_size % 2:
            raise ValueError(f"{self.cell} bi-encoders need an even hidden_size, got {hidden_size}")
        make = _CELLS[self.cell]
        inner_dropout = dropout if layers_num > 1 else 0.0
        self.rnn_forward = make(emb_size, hidden_size // 2, num_layers=layers_num, dropout=inner_dropout,
                                batch_first=True)
        self.rnn_backward = make(emb_size, hidden_size // 2, num_layers=layers_num, dropout=inner_dropout,
                                 batch_first=True)
        self.dropout = nn.Dropout(dropout)

    @classmethod
    def from_args(cls, args: Namespace) -> "BiRnnEncoder":
        return cls(args.emb_size, args.hidden_size, args.layers_num, args.dropout)

    def forward(self, emb: torch.Tensor, seg: torch.Tensor) -> torch.Tensor:
        """emb: [batch_size x seq_length x emb_size] -> [batch_size x seq_length x hidden_size]."""
        lengths = (seg > 0).sum(dim=1).clamp(min=1)
        forward_out, _ = self.rnn_forward(emb)
        backward_out, _ = self.rnn_backward(reverse_real_tokens(emb, lengths))
        backward_out = reverse_real_tokens(backward_out, lengths)
        return self.dropout(torch.cat([forward_out, backward_out], dim=-1))


@ENCODERS.register("birnn")
class BiRnn(BiRnnEncoder):
    cell = "rnn"


@ENCODERS.register("bilstm")
class BiLstmEncoder(BiRnnEncoder):
    cell = "lstm"


@ENCODERS.register("bigru")
class BiGruEncoder(BiRnnEncoder):
    cell = "gru"
