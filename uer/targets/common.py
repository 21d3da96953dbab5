"""Loss helpers shared by targets: every target reports loss, correct and denominator per part.

A target's ``loss_labels`` names, per part, the batch key of its labels, so that the loss of a batch
served in micro-batches can be put together exactly: each part's mean is weighted by the share of
the part's denominator that the micro-batch holds (:func:`micro_batch_weights`).
"""
from typing import Callable, Dict, List, Mapping, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from uer.layers.efficient import linear_cross_entropy, use_lean


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
    Training where ``use_lean`` allows it (CPU) fuses the projection with the loss
    (``linear_cross_entropy``): the [rows x vocab] logits are never kept for backward.
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
    if output_layer.training and torch.is_grad_enabled() and use_lean(selected):
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


def label_count(labels: torch.Tensor) -> int:
    """What a part's loss is a mean over: predicted positions (``> 0``) of token labels [batch x
    length], every row of class labels [batch] (as :func:`token_stats` / :func:`classification_stats`)."""
    return int((labels > 0).sum()) if labels.dim() >= 2 else labels.numel()


def micro_batch_weights(loss_labels: Optional[Mapping[str, str]], pieces: Sequence[Dict[str, torch.Tensor]]
                        ) -> List[Dict[str, float]]:
    """Per micro-batch and part: its share of the whole batch's denominator (they sum to 1). A
    target without ``loss_labels`` gets each micro-batch's share of the rows for its whole loss
    (``"*"``): exact for means over rows, close for means over tokens."""
    if not loss_labels:
        rows = [piece["src"].shape[0] for piece in pieces]
        return [{"*": n / sum(rows)} for n in rows]
    counts = [{part: label_count(piece[key]) for part, key in loss_labels.items()} for piece in pieces]
    totals = {part: sum(c[part] for c in counts) for part in loss_labels}
    return [{part: c[part] / totals[part] if totals[part] else 0.0 for part in loss_labels} for c in counts]


def weighted_loss(stats: Dict[str, torch.Tensor], weights: Mapping[str, float]) -> torch.Tensor:
    """One micro-batch's contribution to the whole batch's ``loss``."""
    if "*" in weights:
        return stats["loss"] * weights["*"]
    parts = [stats[f"loss_{part}"] * weight for part, weight in weights.items()]
    return parts[0] if len(parts) == 1 else sum(parts[1:], parts[0])


def merge_micro_batch_stats(outs: Sequence[Dict[str, torch.Tensor]], weights: Sequence[Mapping[str, float]]
                            ) -> Dict[str, torch.Tensor]:
    """The statistics of the whole batch: part losses weighted, counts summed."""
    merged: Dict[str, torch.Tensor] = {}
    for out, weight in zip(outs, weights):
        for key, value in out.items():
            if key == "loss" or not torch.is_tensor(value):
                continue
            value = value.detach()
            if key.startswith("loss_"):
                value = value.float() * weight.get(key[len("loss_"):], weight.get("*", 0.0))
            merged[key] = merged[key] + value if key in merged else value
    return total_loss(merged)
