"""Additive attention masks built from segment ids (0 = pad, 1 = A, 2 = B).

Blocked positions get -10000 (as BERT did) rather than -inf, so a fully blocked row can never
turn into NaN and fp16 stays in range; exp(-10000) is exactly 0 in fp32.
"""
from typing import Optional

import torch

BLOCKED = -10000.0
MASK_CHOICES = ("fully_visible", "causal", "causal_with_prefix")


def _additive(visible: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    return (~visible).to(dtype) * BLOCKED


def build_attention_mask(seg: torch.Tensor, mask: str, dtype: torch.dtype = torch.float32) -> Optional[torch.Tensor]:
    """Returns an additive mask [batch_size x 1 x seq_length x seq_length] (or [.. x 1 x seq_length]),
    or None when nothing needs masking (lets SDPA take its fastest path)."""
    seq_length = seg.size(1)
    if mask == "fully_visible":
        real = seg > 0
        if bool(real.all()):
            return None
        return _additive(real[:, None, None, :], dtype)
    causal = torch.ones(seq_length, seq_length, dtype=torch.bool, device=seg.device).tril()
    if mask == "causal":
        # Padding sits after the real tokens, so the causal triangle already hides it from them.
        return _additive(causal[None, None], dtype)
    if mask == "causal_with_prefix":
        key_seg = seg[:, None, None, :]
        visible = (key_seg == 1) | ((key_seg == 2) & causal[None, None])
        return _additive(visible, dtype)
    raise ValueError(f"unknown mask '{mask}'; choose one of {', '.join(MASK_CHOICES)}")


def causal_mask(q_length: int, k_length: int, device: torch.device, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """[1 x 1 x q_length x k_length]: the queries are the last q_length positions of k_length."""
    offset = k_length - q_length
    visible = torch.ones(q_length, k_length, dtype=torch.bool, device=device).tril(diagonal=offset)
    return _additive(visible[None, None], dtype)


def key_padding_mask(seg: torch.Tensor, dtype: torch.dtype = torch.float32) -> Optional[torch.Tensor]:
    """[batch_size x 1 x 1 x k_length] blocking keys whose segment id is 0, or None without padding."""
    real = seg > 0
    if bool(real.all()):
        return None
    return _additive(real[:, None, None, :], dtype)


def combine(*biases: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
    """Sum the additive biases that are present."""
    present = [b for b in biases if b is not None]
    if not present:
        return None
    total = present[0]
    for bias in present[1:]:
        total = total + bias
    return total
