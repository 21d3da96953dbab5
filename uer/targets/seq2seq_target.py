"""Encoder-decoder targets: seq2seq (Vaswani et al., 2017) and t5 (Raffel et al., 2020)."""
from argparse import Namespace
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn

from uer.decoders import DECODERS
from uer.embeddings import EMBEDDINGS
from uer.layers.multi_headed_attn import KeyValue
from uer.targets import TARGETS
from uer.targets.common import token_stats, total_loss


@TARGETS.register("seq2seq")
class Seq2seqTarget(nn.Module):
    """Target-side ``embedding`` (``--tgt_embedding``) + ``decoder`` + ``output_layer`` over the
    target vocabulary (``tgt_vocab_size``, the source vocabulary when absent)."""

    loss_labels = {"seq2seq": "tgt_out"}
    tied_layer = "output_layer"

    def __init__(self, args: Namespace):
        super().__init__()
        tgt_vocab_size = getattr(args, "tgt_vocab_size", None) or args.vocab_size
        embedding_args = Namespace(**{**vars(args), "vocab_size": tgt_vocab_size})
        self.embedding = EMBEDDINGS.build(args.tgt_embedding, embedding_args)
        self.decoder = DECODERS.build(args.decoder, args)
        self.output_layer = nn.Linear(args.hidden_size, tgt_vocab_size, bias=args.has_lmtarget_bias)
        # Hugging Face T5 rescales the decoder output by d_model^-0.5 when the output layer is tied
        # to the embedding (Mesh TensorFlow convention); we do the same so converted T5 matches.
        self.output_scale = args.hidden_size ** -0.5 if self.scales_tied_output and args.tie_weights else 1.0

    scales_tied_output = False

    @classmethod
    def from_args(cls, args: Namespace) -> "Seq2seqTarget":
        return cls(args)

    def decode(self, memory_bank: torch.Tensor, src_seg: torch.Tensor, tgt_in: torch.Tensor,
               tgt_seg: Optional[torch.Tensor] = None, past: Optional[List[KeyValue]] = None,
               use_cache: bool = False) -> Tuple[torch.Tensor, Optional[List[KeyValue]]]:
        """Decoder logits [batch_size x tgt_length x tgt_vocab_size] for decoder inputs tgt_in."""
        if tgt_seg is None:
            tgt_seg = (tgt_in > 0).long()
        start = past[0][0].size(2) if past else 0
        emb = self.embedding(tgt_in, tgt_seg, start_position=start)
        hidden, presents = self.decoder(memory_bank, emb, src_seg, past, use_cache)
        return self.output_layer(hidden * self.output_scale), presents

    def forward(self, memory_bank: torch.Tensor, batch: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """batch: tgt_in / tgt_out [batch_size x tgt_length] (0 = pad), tgt_seg, seg (source)."""
        tgt_in = batch["tgt_in"]
        tgt_seg = batch.get("tgt_seg")
        if tgt_seg is None:
            tgt_seg = (tgt_in > 0).long()
        emb = self.embedding(tgt_in, tgt_seg)
        hidden, _ = self.decoder(memory_bank, emb, batch["seg"])
        scaled = hidden * self.output_scale
        return total_loss(token_stats(scaled, batch["tgt_out"], self.output_layer, "seq2seq"))


@TARGETS.register("t5")
class T5Target(Seq2seqTarget):
    """Seq2seq over the source vocabulary; ``--share_embedding`` ties the decoder's word embedding
    to the encoder's, ``--tie_weights`` the output layer to it (T5 v1.0)."""

    scales_tied_output = True
