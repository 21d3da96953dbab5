"""Transformer encoder and decoder layers, post-LN (BERT) or pre-LN (GPT-2, T5)."""
from argparse import Namespace
from typing import List, Optional, Tuple

import torch
import torch.nn as nn

from uer.layers.efficient import Dropout
from uer.layers.layer_norm import build_layer_norm
from uer.layers.multi_headed_attn import KeyValue, MultiHeadedAttention
from uer.layers.position_ffn import build_feed_forward
from uer.layers.token_layout import TokenLayout


def _head_size(args: Namespace) -> int:
    head_size = getattr(args, "attention_head_size", None)
    return head_size if head_size else args.hidden_size // args.heads_num


def _attention(args: Namespace) -> MultiHeadedAttention:
    return MultiHeadedAttention(args.hidden_size, args.heads_num, _head_size(args), args.dropout,
                                bias=not args.remove_transformer_bias, scale=not args.remove_attention_scale)


def _layer_norm(args: Namespace) -> nn.Module:
    return build_layer_norm(args.layernorm, args.hidden_size, args.layernorm_eps,
                            bias=not args.remove_transformer_bias)


class TransformerLayer(nn.Module):
    """Self-attention + feed-forward with residuals (Vaswani et al., 2017)."""

    def __init__(self, args: Namespace):
        super().__init__()
        self.pre_norm = args.layernorm_positioning == "pre"
        self.self_attn = _attention(args)
        self.layer_norm_1 = _layer_norm(args)
        self.feed_forward = build_feed_forward(args.feed_forward, args.hidden_size, args.feedforward_size,
                                               args.hidden_act, bias=not args.remove_transformer_bias)
        self.layer_norm_2 = _layer_norm(args)
        self.dropout_1 = Dropout(args.dropout)
        self.dropout_2 = Dropout(args.dropout)

    def forward(self, hidden: torch.Tensor, attn_bias: Optional[torch.Tensor], is_causal: bool = False,
                past: Optional[KeyValue] = None, use_cache: bool = False,
                queries: Optional[List[int]] = None,
                layout: Optional[TokenLayout] = None) -> Tuple[torch.Tensor, Optional[KeyValue]]:
        """hidden: [batch_size x seq_length x hidden_size]; attn_bias includes any position bias.
        ``queries``: compute the output at these positions only ([batch_size x len(queries) x
        hidden_size]; keys and values still come from every position; not with is_causal).
        ``layout``: ``hidden`` holds the real tokens only ([tokens x hidden_size], the same comes
        out), padded for the attention alone (training; see :mod:`uer.layers.token_layout`)."""
        if queries is not None and attn_bias is not None and attn_bias.size(-2) > 1:
            attn_bias = attn_bias[..., queries, :]
        source = self.layer_norm_1(hidden) if self.pre_norm else hidden
        keys = source if layout is None else layout.pad(source)  # the attention alone sees the padded batch
        query, residual = (keys, hidden) if queries is None else (keys[:, queries], hidden[:, queries])
        attended, present = self.self_attn(query, keys, attn_bias, is_causal, past, use_cache, layout=layout)
        if self.pre_norm:
            hidden = residual + self.dropout_1(attended)
            hidden = hidden + self.dropout_2(self.feed_forward(self.layer_norm_2(hidden)))
        else:
            hidden = self.layer_norm_1(residual + self.dropout_1(attended))
            hidden = self.layer_norm_2(hidden + self.dropout_2(self.feed_forward(hidden)))
        return hidden, present


class TransformerDecoderLayer(nn.Module):
    """Causal self-attention, attention over the encoder output, feed-forward."""

    def __init__(self, args: Namespace):
        super().__init__()
        self.pre_norm = args.layernorm_positioning == "pre"
        self.self_attn = _attention(args)
        self.layer_norm_1 = _layer_norm(args)
        self.context_attn = _attention(args)
        self.layer_norm_2 = _layer_norm(args)
        self.feed_forward = build_feed_forward(args.feed_forward, args.hidden_size, args.feedforward_size,
                                               args.hidden_act, bias=not args.remove_transformer_bias)
        self.layer_norm_3 = _layer_norm(args)
        self.dropout_1 = Dropout(args.dropout)
        self.dropout_2 = Dropout(args.dropout)
        self.dropout_3 = Dropout(args.dropout)

    def forward(self, hidden: torch.Tensor, memory_bank: torch.Tensor, self_bias: Optional[torch.Tensor],
                context_bias: Optional[torch.Tensor], past: Optional[KeyValue] = None,
                use_cache: bool = False) -> Tuple[torch.Tensor, Optional[KeyValue]]:
        """hidden: [batch_size x tgt_length x hidden_size]; memory_bank: [batch_size x src_length x hidden_size]."""
        if self.pre_norm:
            normed = self.layer_norm_1(hidden)
            attended, present = self.self_attn(normed, normed, self_bias, False, past, use_cache)
            hidden = hidden + self.dropout_1(attended)
            context, _ = self.context_attn(self.layer_norm_2(hidden), memory_bank, context_bias)
            hidden = hidden + self.dropout_2(context)
            hidden = hidden + self.dropout_3(self.feed_forward(self.layer_norm_3(hidden)))
        else:
            attended, present = self.self_attn(hidden, hidden, self_bias, False, past, use_cache)
            hidden = self.layer_norm_1(hidden + self.dropout_1(attended))
            context, _ = self.context_attn(hidden, memory_bank, context_bias)
            hidden = self.layer_norm_2(hidden + self.dropout_2(context))
            hidden = self.layer_norm_3(hidden + self.dropout_3(self.feed_forward(hidden)))
        return hidden, present
