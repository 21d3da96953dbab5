"""Learned embeddings: word, word + position, word + position + segment (BERT)."""
from argparse import Namespace

import torch
import torch.nn as nn

from uer.embeddings import EMBEDDINGS
from uer.layers.efficient import embedding_into_grad
from uer.layers.layer_norm import LayerNorm


class WordEmbedding(nn.Module):
    """Token embedding, optional LayerNorm, dropout. Subclasses add position / segment tables."""

    use_position = False
    use_segment = False
    # Set by the training loops for a model they do not wrap in DDP/FSDP (see set_grads_in_place).
    grads_in_place = False

    def __init__(self, vocab_size: int, emb_size: int, max_seq_length: int, dropout: float,
                 layernorm: bool = True, layernorm_bias: bool = True, eps: float = 1e-6):
        super().__init__()
        self.word_embedding = nn.Embedding(vocab_size, emb_size)
        if self.use_position:
            self.position_embedding = nn.Embedding(max_seq_length, emb_size)
        if self.use_segment:
            # Row 0 is padding, 1 sentence A, 2 sentence B.
            self.segment_embedding = nn.Embedding(3, emb_size)
        if layernorm:
            self.layer_norm = LayerNorm(emb_size, eps, bias=layernorm_bias)
        self.dropout = nn.Dropout(dropout)
        self.max_seq_length = max_seq_length

    @classmethod
    def from_args(cls, args: Namespace) -> "WordEmbedding":
        return cls(args.vocab_size, args.emb_size, args.max_seq_length, args.dropout,
                   layernorm=not args.remove_embedding_layernorm,
                   layernorm_bias=not args.remove_embedding_layernorm_bias, eps=args.layernorm_eps)

    def forward(self, src: torch.Tensor, seg: torch.Tensor, start_position: int = 0) -> torch.Tensor:
        """src, seg: [batch_size x seq_length] -> [batch_size x seq_length x emb_size].

        ``start_position`` offsets positions (incremental decoding with a key/value cache).
        """
        table = self.word_embedding.weight
        if self.grads_in_place and self.training and table.requires_grad and torch.is_grad_enabled():
            emb = embedding_into_grad(src, table)
        else:
            emb = self.word_embedding(src)
        if self.use_position:
            seq_length = src.size(1)
            if start_position + seq_length > self.max_seq_length:
                raise ValueError(f"sequence of {start_position + seq_length} tokens exceeds max_seq_length "
                                 f"{self.max_seq_length}")
            positions = torch.arange(start_position, start_position + seq_length, device=src.device)
            emb = emb + self.position_embedding(positions).unsqueeze(0)
        if self.use_segment:
            emb = emb + self.segment_embedding(seg)
        if hasattr(self, "layer_norm"):
            emb = self.layer_norm(emb)
        return self.dropout(emb)


EMBEDDINGS.register("word")(WordEmbedding)


@EMBEDDINGS.register("word_pos")
class WordPosEmbedding(WordEmbedding):
    """Word + learned absolute position (GPT-2)."""

    use_position = True


@EMBEDDINGS.register("word_pos_seg")
class WordPosSegEmbedding(WordEmbedding):
    """Word + position + segment (Devlin et al., 2019, BERT)."""

    use_position = True
    use_segment = True


def set_grads_in_place(model: nn.Module, enabled: bool) -> None:
    """Add the word embeddings' gradients to ``weight.grad`` in place while training (saves a
    vocabulary-sized fill and add per backward: uer.layers.efficient.embedding_into_grad). Only for
    a model trained in one process: DDP and FSDP must see every gradient through autograd."""
    for module in model.modules():
        if isinstance(module, WordEmbedding):
            module.grads_in_place = enabled
