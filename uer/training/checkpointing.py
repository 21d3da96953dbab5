"""Activation checkpointing (``--activation_checkpointing``): every transformer layer recomputes its
forward pass in backward instead of keeping its activations (Chen et al., 2016, "Training Deep Nets
with Sublinear Memory Cost").

Public API::

    blocks = transformer_blocks(model)          # every encoder and decoder TransformerLayer
    apply_activation_checkpointing(model)       # those layers recompute in backward

Applied from outside the model code, as torchtitan does, but without a wrapper module: each layer's
class is swapped for a subclass whose ``forward`` runs the original one under
``torch.utils.checkpoint`` (non-reentrant). Parameter names, ``state_dict`` keys and ``isinstance``
checks stay exactly as they were, so checkpoints written with the flag are the files written
without it, and sharding or compiling the layers afterwards sees the same modules.
"""
from typing import Dict, List

import torch
import torch.nn as nn
from torch.utils.checkpoint import checkpoint

from uer.layers.transformer import TransformerDecoderLayer, TransformerLayer

BLOCK_TYPES = (TransformerLayer, TransformerDecoderLayer)


def transformer_blocks(model: nn.Module) -> List[nn.Module]:
    """The transformer layers of ``model`` (encoder and decoder), each once (a layer shared by
    ALBERT's ``--parameter_sharing`` too), in module order."""
    return [module for module in model.modules() if isinstance(module, BLOCK_TYPES)]


class _Recomputed:
    """Mixin placed before a layer's own class: training forwards keep only the layer's inputs."""

    def forward(self, *args, **kwargs):
        if self.training and torch.is_grad_enabled():
            # The random state is replayed in the recomputation (dropout masks are the same).
            return checkpoint(super().forward, *args, use_reentrant=False, **kwargs)
        return super().forward(*args, **kwargs)


_RECOMPUTED_CLASSES: Dict[type, type] = {}


def _recomputed_class(cls: type) -> type:
    if cls not in _RECOMPUTED_CLASSES:
        name = f"Recomputed{cls.__name__}"
        # Named in this module, so that pickle (torch.save of a whole model) finds the class again.
        made = type(name, (_Recomputed, cls), {"__module__": __name__, "__qualname__": name})
        globals()[name] = _RECOMPUTED_CLASSES[cls] = made
    return _RECOMPUTED_CLASSES[cls]


def apply_activation_checkpointing(model: nn.Module) -> int:
    """Make every transformer layer of ``model`` recompute its activations in backward (in place;
    applying it twice changes nothing). Returns the number of layers affected; 0 for recurrent and
    convolutional encoders, which have no such layers."""
    blocks = transformer_blocks(model)
    for block in blocks:
        if not isinstance(block, _Recomputed):
            block.__class__ = _recomputed_class(type(block))
    return len(blocks)
