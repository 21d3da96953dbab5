"""Multi-head attention (Vaswani et al., 2017) on ``scaled_dot_product_attention``."""
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from uer.layers.efficient import dropout_attention, use_lean
from uer.layers.token_layout import TokenLayout

KeyValue = Tuple[torch.Tensor, torch.Tensor]


class MultiHeadedAttention(nn.Module):
    """Q/K/V projections are ``linear_layers.{0,1,2}``, the output projection ``final_linear``.

    ``head_size`` defaults to hidden_size / heads_num (config ``attention_head_size`` for T5 v1.1).
    ``scale=False`` skips the 1/sqrt(d) scaling (T5).
    """

    def __init__(self, hidden_size: int, heads_num: int, head_size: int, dropout: float,
                 bias: bool = True, scale: bool = True):
        super().__init__()
        self.heads_num = heads_num
        self.head_size = head_size
        inner = heads_num * head_size
        self.linear_layers = nn.ModuleList([nn.Linear(hidden_size, inner, bias=bias) for _ in range(3)])
        self.final_linear = nn.Linear(inner, hidden_size, bias=bias)
        self.dropout = dropout
        self.scale = None if scale else 1.0

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        batch_size, seq_length, _ = x.shape
        return x.view(batch_size, seq_length, self.heads_num, self.head_size).transpose(1, 2)

    def forward(self, query: torch.Tensor, key_value: torch.Tensor, attn_bias: Optional[torch.Tensor] = None,
                is_causal: bool = False, past: Optional[KeyValue] = None,
                use_cache: bool = False, layout: Optional[TokenLayout] = None) -> Tuple[torch.Tensor, Optional[KeyValue]]:
        """query: [batch_size x q_length x hidden_size]; key_value: [batch_size x k_length x hidden_size].

        attn_bias: additive [batch_size or 1 x heads or 1 x q_length x k_length] (mask and position bias).
        past: cached (key, value) [batch_size x heads x past_length x head_size], prepended to this step's.
        Returns the output [batch_size x q_length x hidden_size] and the new cache when ``use_cache``.
        With ``layout`` (self-attention over a padded batch) the output projection runs on the real
        tokens only: [tokens x hidden_size] (see :mod:`uer.layers.token_layout`).
        """
        q = self._split(self.linear_layers[0](query))
        k = self._split(self.linear_layers[1](key_value))
        v = self._split(self.linear_layers[2](key_value))
        if past is not None:
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
        if attn_bias is not None and attn_bias.dtype != q.dtype:
            attn_bias = attn_bias.to(q.dtype)
        dropout_p = self.dropout if self.training else 0.0
        if dropout_p > 0.0 and torch.is_grad_enabled() and use_lean(q):
            # SDPA's CPU math path (the only one with dropout) keeps ~1.6x more for backward.
            context = dropout_attention(q, k, v, attn_bias, is_causal and attn_bias is None, self.scale, dropout_p)
        else:
            context = F.scaled_dot_product_attention(
                q, k, v, attn_mask=attn_bias, dropout_p=dropout_p,
                is_causal=is_causal and attn_bias is None, scale=self.scale)
        batch_size, _, q_length, _ = context.shape
        context = context.transpose(1, 2).reshape(batch_size, q_length, self.heads_num * self.head_size)
        if layout is not None:
            context = layout.unpad(context)
        return self.final_linear(context), ((k, v) if use_cache else None)
