"""Causal gated convolutional encoder (Dauphin et al., 2017, "Language Modeling with Gated CNNs")."""
from argparse import Namespace

import torch
import torch.nn as nn
import torch.nn.functional as F

from uer.encoders import ENCODERS


@ENCODERS.register("gatedcnn")
class GatedCnnEncoder(nn.Module):
    """GLU layers ``h * sigmoid(g)`` over left-padded windows of ``kernel_size``, with a residual
    connection every ``block_size`` layers. Key names follow UER-py (``conv_1``, ``gate_1``,
    ``conv_b1``, ``conv.{i}``, ``conv_b.{i}`` ...)."""

    def __init__(self, emb_size: int, hidden_size: int, layers_num: int, kernel_size: int, block_size: int,
                 dropout: float):
        super().__init__()
        self.kernel_size = kernel_size
        self.block_size = block_size
        self.conv_1 = nn.Conv2d(1, hidden_size, (kernel_size, emb_size))
        self.gate_1 = nn.Conv2d(1, hidden_size, (kernel_size, emb_size))
        self.conv_b1 = nn.Parameter(torch.randn(1, hidden_size, 1, 1))
        self.gate_b1 = nn.Parameter(torch.randn(1, hidden_size, 1, 1))
        self.conv = nn.ModuleList([nn.Conv2d(hidden_size, hidden_size, (kernel_size, 1))
                                   for _ in range(layers_num - 1)])
        self.gate = nn.ModuleList([nn.Conv2d(hidden_size, hidden_size, (kernel_size, 1))
                                   for _ in range(layers_num - 1)])
        self.conv_b = nn.ParameterList([nn.Parameter(torch.randn(1, hidden_size, 1, 1))
                                        for _ in range(layers_num - 1)])
        self.gate_b = nn.ParameterList([nn.Parameter(torch.randn(1, hidden_size, 1, 1))
                                        for _ in range(layers_num - 1)])
        self.dropout = nn.Dropout(dropout)

    @classmethod
    def from_args(cls, args: Namespace) -> "GatedCnnEncoder":
        return cls(args.emb_size, args.hidden_size, args.layers_num, args.kernel_size, args.block_size,
                   args.dropout)

    def _left_pad(self, x: torch.Tensor) -> torch.Tensor:
        # x: [batch_size x channels x seq_length x width]; pad the time axis on the left only (causal).
        return F.pad(x, (0, 0, self.kernel_size - 1, 0))

    def forward(self, emb: torch.Tensor, seg: torch.Tensor) -> torch.Tensor:
        """emb: [batch_size x seq_length x emb_size] -> [batch_size x seq_length x hidden_size]."""
        x = self._left_pad(emb.unsqueeze(1))
        hidden = (self.conv_1(x) + self.conv_b1) * torch.sigmoid(self.gate_1(x) + self.gate_b1)
        residual = hidden
        for i, (conv, gate) in enumerate(zip(self.conv, self.gate)):
            x = self._left_pad(hidden)
            hidden = (conv(x) + self.conv_b[i]) * torch.sigmoid(gate(x) + self.gate_b[i])
            if (i + 1) % self.block_size == 0:
                hidden = hidden + residual
                residual = hidden
        return self.dropout(hidden.squeeze(3).transpose(1, 2))
