"""Padding removed from the per-token work of a transformer while it trains ("unpadding").

In a padded batch every layer's linear maps, feed-forward, layer norms and dropouts also run on
the padded slots, whose outputs nothing reads: the attention never looks at them (their keys are
masked), and the heads pool, tag and score real tokens only. With a random batch order a batch
mixes lengths, so a third to two thirds of its slots are padding (benchmarks/README.md).
:class:`TokenLayout` keeps the real tokens as one [tokens x hidden] matrix between the attentions
and scatters them back into the padded [batch x seq_length] layout only for the attention itself,
as NVIDIA's and MosaicML's BERT recipes do. The real tokens' values are those of the padded
computation; only the padded slots of the encoder output differ (zeros instead of values that
nothing reads).
"""
from typing import Optional

import torch

# Below this share of real tokens the saved work pays for the gathers and scatters (two per
# layer, forward and backward); above it the padded layout is kept.
UNPAD_BELOW_REAL_FRACTION = 0.9


class TokenLayout:
    """Where the real tokens (``real`` [batch_size x seq_length], bool) of a padded batch sit."""

    def __init__(self, real: torch.Tensor, index: Optional[torch.Tensor] = None):
        self.batch_size, self.seq_length = real.shape
        self.index = real.reshape(-1).nonzero().squeeze(1) if index is None else index

    @classmethod
    def worthwhile(cls, seg: torch.Tensor) -> Optional["TokenLayout"]:
        """The layout of the tokens whose segment id is not 0, or None when padding is scarce
        (fewer than 1 - ``UNPAD_BELOW_REAL_FRACTION`` of the slots)."""
        real = seg > 0
        index = real.reshape(-1).nonzero().squeeze(1)  # one host sync decides and locates
        if index.numel() >= UNPAD_BELOW_REAL_FRACTION * real.numel():
            return None
        return cls(real, index)

    @property
    def tokens(self) -> int:
        return self.index.numel()

    def unpad(self, x: torch.Tensor) -> torch.Tensor:
        """[batch_size x seq_length x ...] -> [tokens x ...]: the real tokens, in reading order."""
        return x.reshape(self.batch_size * self.seq_length, *x.shape[2:]).index_select(0, self.index)

    def pad(self, x: torch.Tensor) -> torch.Tensor:
        """[tokens x ...] -> [batch_size x seq_length x ...], zeros in the padded slots."""
        slots = x.new_zeros(self.batch_size * self.seq_length, *x.shape[1:])
        return slots.index_copy(0, self.index, x).view(self.batch_size, self.seq_length, *x.shape[1:])
