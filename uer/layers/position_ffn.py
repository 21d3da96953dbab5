"""Position-wise feed-forward blocks: dense (BERT) and gated (GLU variants, T5 v1.1)."""
import torch
import torch.nn as nn

from uer.layers.efficient import ACTIVATION_GRADS, feed_forward, gated_feed_forward, use_lean
from uer.utils.act_fun import get_activation


def _lean(module: nn.Module, x: torch.Tensor) -> bool:
    """Training with gradients: use the Function that recomputes the activation in backward."""
    return module.training and torch.is_grad_enabled() and module.hidden_act in ACTIVATION_GRADS and use_lean(x)


class PositionwiseFeedForward(nn.Module):
    """``linear_2(act(linear_1(x)))``."""

    def __init__(self, hidden_size: int, feedforward_size: int, hidden_act: str, bias: bool = True):
        super().__init__()
        self.linear_1 = nn.Linear(hidden_size, feedforward_size, bias=bias)
        self.linear_2 = nn.Linear(feedforward_size, hidden_size, bias=bias)
        self.hidden_act = hidden_act
        self.act = get_activation(hidden_act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if _lean(self, x):
            return feed_forward(x, self.linear_1, self.linear_2, self.hidden_act)
        return self.linear_2(self.act(self.linear_1(x)))


class GatedFeedForward(nn.Module):
    """``linear_2(act(linear_gate(x)) * linear_1(x))`` (Shazeer, 2020, "GLU Variants")."""

    def __init__(self, hidden_size: int, feedforward_size: int, hidden_act: str, bias: bool = True):
        super().__init__()
        self.linear_gate = nn.Linear(hidden_size, feedforward_size, bias=bias)
        self.linear_1 = nn.Linear(hidden_size, feedforward_size, bias=bias)
        self.linear_2 = nn.Linear(feedforward_size, hidden_size, bias=bias)
        self.hidden_act = hidden_act
        self.act = get_activation(hidden_act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if _lean(self, x):
            return gated_feed_forward(x, self.linear_gate, self.linear_1, self.linear_2, self.hidden_act)
        return self.linear_2(self.act(self.linear_gate(x)) * self.linear_1(x))


def build_feed_forward(kind: str, hidden_size: int, feedforward_size: int, hidden_act: str,
                       bias: bool = True) -> nn.Module:
    if kind == "gated":
        return GatedFeedForward(hidden_size, feedforward_size, hidden_act, bias)
    if kind == "dense":
        return PositionwiseFeedForward(hidden_size, feedforward_size, hidden_act, bias)
    raise ValueError(f"unknown feed_forward '{kind}'; choose dense or gated")
