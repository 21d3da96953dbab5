"""Sequence pooling that ignores padding (the original pooled over pads for last/mean/max)."""
import torch

POOLING_CHOICES = ("first", "last", "mean", "max")


def pool(hidden: torch.Tensor, seg: torch.Tensor, how: str) -> torch.Tensor:
    """Pool ``hidden`` [batch_size x seq_length x hidden_size] over real tokens (``seg > 0``).

    Returns [batch_size x hidden_size]. ``last`` is the last real token of each row.
    """
    if how == "first":
        return hidden[:, 0]
    mask = (seg > 0)
    if how == "last":
        lengths = mask.long().sum(dim=1).clamp(min=1)
        index = (lengths - 1).view(-1, 1, 1).expand(-1, 1, hidden.size(-1))
        return hidden.gather(1, index).squeeze(1)
    mask_f = mask.unsqueeze(-1).to(hidden.dtype)
    if how == "mean":
        return (hidden * mask_f).sum(dim=1) / mask_f.sum(dim=1).clamp(min=1.0)
    if how == "max":
        blocked = torch.finfo(hidden.dtype).min
        return hidden.masked_fill(~mask.unsqueeze(-1), blocked).max(dim=1).values
    raise ValueError(f"unknown pooling '{how}'; choose one of {', '.join(POOLING_CHOICES)}")
