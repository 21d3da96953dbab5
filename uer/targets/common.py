"""Loss helpers shared by targets: every target reports loss, correct and denominator per part."""
from typing import Dict

import torch
import torch.nn.functional as F


def classification_stats(logits: torch.Tensor, labels: torch.Tensor, part: str) -> Dict[str, torch.Tensor]:
    """Cross-entropy over rows whose label is > 0 is NOT assumed here: every row counts.

    logits: [n x classes], labels: [n].
    """
    loss = F.cross_entropy(logits.float(), labels)
    correct = (logits.argmax(dim=-1) == labels).sum()
    return {f"loss_{part}": loss, f"correct_{part}": correct,
            f"denominator_{part}": torch.tensor(labels.numel(), device=labels.device)}


def token_stats(hidden: torch.Tensor, tgt: torch.Tensor, project, part: str) -> Dict[str, torch.Tensor]:
    """Project only the positions to predict (``tgt > 0``) and score them.

    hidden: [batch_size x seq_length x hidden_size], tgt: [batch_size x seq_length] (0 = ignore).
    Gathering first avoids a [batch x seq x vocab] logits tensor for the ~15% of positions MLM predicts.
    """
    positions = tgt > 0
    denominator = positions.sum()
    if int(denominator) == 0:
        # Keep the graph connected so DDP and backward see every parameter.
        zero = hidden.sum() * 0.0
        return {f"loss_{part}": zero, f"correct_{part}": denominator, f"denominator_{part}": denominator}
    logits = project(hidden[positions])
    labels = tgt[positions]
    loss = F.cross_entropy(logits.float(), labels)
    correct = (logits.argmax(dim=-1) == labels).sum()
    return {f"loss_{part}": loss, f"correct_{part}": correct, f"denominator_{part}": denominator}


def total_loss(stats: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Add ``loss`` = sum of the part losses."""
    parts = [value for key, value in stats.items() if key.startswith("loss_")]
    stats["loss"] = parts[0] if len(parts) == 1 else sum(parts[1:], parts[0])
    return stats
