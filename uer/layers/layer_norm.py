"""Layer normalisations with the UER parameter names (``gamma``/``beta``).

Unlike the original UER-py LayerNorm (unbiased std, eps added to the std), ``LayerNorm`` is the
standard one (biased variance, eps inside the root), so converted BERT/GPT-2 models compute
exactly what Hugging Face computes.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class LayerNorm(nn.Module):
    """Standard LayerNorm (Ba et al., 2016); ``bias=False`` drops ``beta``."""

    def __init__(self, hidden_size: int, eps: float = 1e-6, bias: bool = True):
        super().__init__()
        self.eps = eps
        self.gamma = nn.Parameter(torch.ones(hidden_size))
        self.beta = nn.Parameter(torch.zeros(hidden_size)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, self.gamma.shape, self.gamma, self.beta, self.eps)


class T5LayerNorm(nn.Module):
    """RMS norm as in T5: no mean subtraction, no bias; statistics in fp32."""

    def __init__(self, hidden_size: int, eps: float = 1e-6, bias: bool = False):
        super().__init__()
        self.eps = eps
        self.gamma = nn.Parameter(torch.ones(hidden_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        variance = x.float().pow(2).mean(-1, keepdim=True)
        normed = (x.float() * torch.rsqrt(variance + self.eps)).to(x.dtype)
        return self.gamma * normed


def build_layer_norm(kind: str, hidden_size: int, eps: float, bias: bool = True) -> nn.Module:
    """``kind`` is ``normal`` (LayerNorm) or ``t5`` (RMS norm)."""
    if kind == "t5":
        return T5LayerNorm(hidden_size, eps)
    if kind == "normal":
        return LayerNorm(hidden_size, eps, bias)
    raise ValueError(f"unknown layernorm '{kind}'; choose normal or t5")
