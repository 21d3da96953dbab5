"""Loss helpers shared by targets: every target reports loss, correct and denominator per part."""
from typing import Callable, Dict, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from uer.layers.efficient import linear_cross_entropy


def classification_stats(logits: torch.Tensor, labels: torch.Tensor, part: str) -> Dict[str, torch.Tensor]:
    """Cross-entropy over rows whose label is > 0 is NOT assumed here: every row counts.

    logits: [n x classes], labels: [n].
    """
    loss = F.cross_entropy(logits.float(), labels)
    correct = (logits.argmax(dim=-1) == labels).sum()
    return {f"loss_{part}": loss, f"correct_{part}": correct,
            f"denominator_{part}": torch.tensor(labels.numel(), device=labels.device)}


def token_stats(hidden: torch.Tensor, tgt: torch.Tensor, output_layer: nn.Linear, part: str,
                transform: Optional[Callable[[torch.Tensor], torch.Tensor]] = None) -> Dict[str, torch.Tensor]:
    """Project only the positions to predict (``tgt > 0``) and score them.

    hidden: [batch_size x seq_length x hidden_size], tgt: [batch_size x seq_length] (0 = ignore).
    logits = ``output_layer(transform(hidden))``; ``output_layer`` is the vocabulary projection.
    Gathering first avoids a [batch x seq x vocab] logits tensor for the ~15% of positions MLM predicts.
    Training fuses the projection with the loss (``linear_cross_entropy``): the [rows x vocab]
    logits are never kept for backward.
    """
    positions = tgt > 0
    denominator = positions.sum()
    if int(denominator) == 0:
        # Keep the graph connected so DDP and backward see every parameter.
        zero = hidden.sum() * 0.0
        return {f"loss_{part}": zero, f"correct_{part}": denominator, f"denominator_{part}": denominator}
    selected = hidden[positions]
    if transform is not None:
        selected = transform(selected)
    labels = tgt[positions]
    if output_layer.training and torch.is_grad_enabled():
        loss, correct = linear_cross_entropy(selected, output_layer, labels)
    else:
        logits = output_layer(selected)
        loss = F.cross_entropy(logits.float(), labels)
        correct = (logits.argmax(dim=-1) == labels).sum()
    return {f"loss_{part}": loss, f"correct_{part}": correct, f"denominator_{part}": denominator}


def total_loss(stats: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Add ``loss`` = sum of the part losses."""
    parts = [value for key, value in stats.items() if key.startswith("loss_")]
    stats["loss"] = parts[0] if len(parts) == 1 else sum(parts[1:], parts[0])
    return stats
