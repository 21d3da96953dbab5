"""The composed model: embedding -> encoder -> target."""
from typing import Dict

import torch
import torch.nn as nn


class Model(nn.Module):
    """``embedding``, ``encoder`` and ``target`` keep UER-py's state-dict prefixes."""

    def __init__(self, embedding: nn.Module, encoder: nn.Module, target: nn.Module,
                 tie_weights: bool = False, share_embedding: bool = False):
        super().__init__()
        self.embedding = embedding
        self.encoder = encoder
        self.target = target
        if share_embedding and hasattr(target, "embedding"):
            target.embedding.word_embedding.weight = embedding.word_embedding.weight
        if tie_weights and getattr(target, "tied_layer", None):
            # The output projection shares the (decoder-side, for seq2seq) word embedding matrix.
            source = target.embedding if hasattr(target, "embedding") else embedding
            layer = getattr(target, target.tied_layer)
            if layer.weight.shape != source.word_embedding.weight.shape:
                raise ValueError(f"--tie_weights needs the output layer {tuple(layer.weight.shape)} and the word "
                                 f"embedding {tuple(source.word_embedding.weight.shape)} to have the same shape "
                                 "(emb_size must equal hidden_size for this target)")
            layer.weight = source.word_embedding.weight

    def encode(self, src: torch.Tensor, seg: torch.Tensor) -> torch.Tensor:
        """[batch_size x seq_length] ids and segments -> [batch_size x seq_length x hidden_size]."""
        return self.encoder(self.embedding(src, seg), seg)

    def forward(self, batch: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        return self.target(self.encode(batch["src"], batch["seg"]), batch)
