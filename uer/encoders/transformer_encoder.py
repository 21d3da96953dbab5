"""The transformer encoder behind BERT, RoBERTa, ALBERT, GPT-2 and T5 (one flag per variation)."""
from argparse import Namespace
from typing import List, Optional, Tuple

import torch
import torch.nn as nn

from uer.encoders import ENCODERS
from uer.layers.layer_norm import build_layer_norm
from uer.layers.masks import build_attention_mask, causal_mask, combine
from uer.layers.multi_headed_attn import KeyValue
from uer.layers.relative_position_embedding import RelativePositionEmbedding
from uer.layers.token_layout import TokenLayout
from uer.layers.transformer import TransformerLayer


@ENCODERS.register("transformer")
class TransformerEncoder(nn.Module):
    """A stack of ``layers_num`` TransformerLayers.

    ALBERT (Lan et al., 2020): ``factorized_embedding_parameterization`` projects emb_size to
    hidden_size with ``linear``; ``parameter_sharing`` applies one layer ``layers_num`` times.
    Pre-LN stacks end with ``layer_norm``. T5 adds a bucketed relative position bias shared by
    all layers (``relative_pos_emb``), with pre-LN too.
    """

    def __init__(self, args: Namespace):
        super().__init__()
        self.mask = args.mask
        self.layers_num = args.layers_num
        self.parameter_sharing = args.parameter_sharing
        self.pre_norm = args.layernorm_positioning == "pre"
        if args.factorized_embedding_parameterization:
            self.linear = nn.Linear(args.emb_size, args.hidden_size)
        elif args.emb_size != args.hidden_size:
            raise ValueError(f"emb_size ({args.emb_size}) must equal hidden_size ({args.hidden_size}) unless "
                             "--factorized_embedding_parameterization is set")
        if self.parameter_sharing:
            self.transformer = TransformerLayer(args)
        else:
            self.transformer = nn.ModuleList([TransformerLayer(args) for _ in range(args.layers_num)])
        if self.pre_norm:
            self.layer_norm = build_layer_norm(args.layernorm, args.hidden_size, args.layernorm_eps,
                                               bias=not args.remove_transformer_bias)
        if args.relative_position_embedding:
            self.relative_pos_emb = RelativePositionEmbedding(
                args.heads_num, bidirectional=args.mask == "fully_visible",
                num_buckets=args.relative_attention_num_buckets)

    @classmethod
    def from_args(cls, args: Namespace) -> "TransformerEncoder":
        return cls(args)

    def layer(self, i: int) -> TransformerLayer:
        return self.transformer if self.parameter_sharing else self.transformer[i]

    def forward(self, emb: torch.Tensor, seg: torch.Tensor) -> torch.Tensor:
        """emb: [batch_size x seq_length x emb_size], seg: [batch_size x seq_length] -> [.. x hidden_size]."""
        hidden, _ = self.forward_cached(emb, seg)
        return hidden

    def forward_cached(self, emb: torch.Tensor, seg: torch.Tensor, past: Optional[List[KeyValue]] = None,
                       use_cache: bool = False) -> Tuple[torch.Tensor, Optional[List[KeyValue]]]:
        """Like ``forward``; with ``past`` (one (key, value) per layer) ``emb`` holds only the new
        positions of a causal model, which attend to the cached ones: one step per new token."""
        hidden = self.linear(emb) if hasattr(self, "linear") else emb
        q_length = hidden.size(1)
        past_length = past[0][0].size(2) if past else 0
        if past and self.mask != "causal":
            raise ValueError("incremental decoding needs --mask causal")
        attn_bias, is_causal = self._attention_bias(seg, q_length, past_length)
        layout = self._training_layout(seg) if past is None and not use_cache else None
        if layout is not None:
            hidden = layout.unpad(hidden)
        presents = [] if use_cache else None
        for i in range(self.layers_num):
            hidden, present = self.layer(i)(hidden, attn_bias, is_causal, past[i] if past else None, use_cache,
                                            layout=layout)
            if use_cache:
                presents.append(present)
        if self.pre_norm:
            hidden = self.layer_norm(hidden)
        return (hidden if layout is None else layout.pad(hidden)), presents

    # Training drops padded slots from the per-token work (uer/layers/token_layout.py); off for
    # callers that need static shapes.
    unpad_tokens = True

    def _training_layout(self, seg: torch.Tensor) -> Optional[TokenLayout]:
        """Where a training batch's real tokens sit, if enough of its slots are padding.

        Real tokens are those with a segment id: fully visible masks hide the others from the
        attention, and every head and target reads real tokens only. Causal masks do not look at
        segment ids, so they keep the padded layout."""
        if not (self.unpad_tokens and self.training and torch.is_grad_enabled() and self.mask == "fully_visible"):
            return None
        return TokenLayout.worthwhile(seg)

    def forward_at(self, emb: torch.Tensor, seg: torch.Tensor, positions: List[int]) -> torch.Tensor:
        """The outputs at ``positions`` only: [batch_size x len(positions) x hidden_size], equal to
        ``forward(emb, seg)[:, positions]``. The last layer computes its queries, attention output
        and feed-forward at those positions only (keys and values still cover every position), which
        saves most of that layer when one position is scored (scripts/topn_words_dep.py)."""
        hidden = self.linear(emb) if hasattr(self, "linear") else emb
        attn_bias, is_causal = self._attention_bias(seg, hidden.size(1), 0)
        for i in range(self.layers_num - 1):
            hidden, _ = self.layer(i)(hidden, attn_bias, is_causal)
        if is_causal:  # SDPA's is_causal aligns a shorter query block with the first keys: spell it out
            attn_bias = causal_mask(hidden.size(1), hidden.size(1), hidden.device)
        hidden, _ = self.layer(self.layers_num - 1)(hidden, attn_bias, queries=positions)
        return self.layer_norm(hidden) if self.pre_norm else hidden

    def _attention_bias(self, seg: torch.Tensor, q_length: int,
                        past_length: int) -> Tuple[Optional[torch.Tensor], bool]:
        """(additive bias with the mask and any relative position bias, whether SDPA's is_causal does the mask)."""
        is_causal = False
        if past_length:
            attn_bias = causal_mask(q_length, past_length + q_length, seg.device)
        elif self.mask == "causal" and not hasattr(self, "relative_pos_emb"):
            attn_bias, is_causal = None, True
        else:
            attn_bias = build_attention_mask(seg, self.mask)
        if hasattr(self, "relative_pos_emb"):
            position_bias = self.relative_pos_emb(q_length, past_length + q_length, q_offset=past_length)
            attn_bias = combine(attn_bias, position_bias)
        return attn_bias, is_causal
