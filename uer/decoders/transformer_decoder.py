"""Transformer decoder for seq2seq and T5 targets."""
from argparse import Namespace
from typing import List, Optional, Tuple

import torch
import torch.nn as nn

from uer.decoders import DECODERS
from uer.layers.layer_norm import build_layer_norm
from uer.layers.masks import causal_mask, combine, key_padding_mask
from uer.layers.multi_headed_attn import KeyValue
from uer.layers.relative_position_embedding import RelativePositionEmbedding
from uer.layers.transformer import TransformerDecoderLayer


@DECODERS.register("transformer")
class TransformerDecoder(nn.Module):
    """``decoder_layers_num`` (default ``layers_num``) decoder layers; pre-LN stacks end with
    ``layer_norm``. With ``--relative_position_embedding`` the self-attention gets T5's
    unidirectional bucketed bias (``self_pos_emb``); attention over the encoder has none, as in T5."""

    def __init__(self, args: Namespace):
        super().__init__()
        self.layers_num = getattr(args, "decoder_layers_num", None) or args.layers_num
        self.pre_norm = args.layernorm_positioning == "pre"
        self.transformer_decoder = nn.ModuleList([TransformerDecoderLayer(args) for _ in range(self.layers_num)])
        if self.pre_norm:
            self.layer_norm = build_layer_norm(args.layernorm, args.hidden_size, args.layernorm_eps,
                                               bias=not args.remove_transformer_bias)
        if args.relative_position_embedding:
            self.self_pos_emb = RelativePositionEmbedding(args.heads_num, bidirectional=False,
                                                          num_buckets=args.relative_attention_num_buckets)

    @classmethod
    def from_args(cls, args: Namespace) -> "TransformerDecoder":
        return cls(args)

    def forward(self, memory_bank: torch.Tensor, emb: torch.Tensor, src_seg: torch.Tensor,
                past: Optional[List[KeyValue]] = None,
                use_cache: bool = False) -> Tuple[torch.Tensor, Optional[List[KeyValue]]]:
        """memory_bank: [batch_size x src_length x hidden_size] (encoder output);
        emb: [batch_size x tgt_length x hidden_size] (target embeddings, only the new positions
        when ``past`` holds the cached self-attention keys/values); src_seg masks source padding.
        Returns hidden [batch_size x tgt_length x hidden_size] and the new cache."""
        q_length = emb.size(1)
        past_length = past[0][0].size(2) if past else 0
        self_bias = causal_mask(q_length, past_length + q_length, emb.device)
        if hasattr(self, "self_pos_emb"):
            self_bias = combine(self_bias, self.self_pos_emb(q_length, past_length + q_length, q_offset=past_length))
        context_bias = key_padding_mask(src_seg)
        hidden = emb
        presents = [] if use_cache else None
        for i, layer in enumerate(self.transformer_decoder):
            hidden, present = layer(hidden, memory_bank, self_bias, context_bias,
                                    past[i] if past else None, use_cache)
            if use_cache:
                presents.append(present)
        if self.pre_norm:
            hidden = self.layer_norm(hidden)
        return hidden, presents
