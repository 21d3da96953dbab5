"""T5's bucketed relative position bias (Raffel et al., 2020)."""
import math

import torch
import torch.nn as nn


def relative_position_bucket(relative_position: torch.Tensor, bidirectional: bool, num_buckets: int,
                             max_distance: int) -> torch.Tensor:
    """Map key-minus-query offsets to buckets: half exact, half log-spaced up to ``max_distance``."""
    bucket_base = torch.zeros_like(relative_position)
    if bidirectional:
        num_buckets //= 2
        bucket_base = (relative_position > 0).long() * num_buckets
        distance = relative_position.abs()
    else:
        distance = (-relative_position).clamp(min=0)
    max_exact = num_buckets // 2
    is_small = distance < max_exact
    log_ratio = torch.log(distance.float().clamp(min=1) / max_exact) / math.log(max_distance / max_exact)
    large = max_exact + (log_ratio * (num_buckets - max_exact)).long()
    large = large.clamp(max=num_buckets - 1)
    return bucket_base + torch.where(is_small, distance, large)


class RelativePositionEmbedding(nn.Module):
    """A [num_buckets x heads_num] table turned into an additive attention bias."""

    def __init__(self, heads_num: int, bidirectional: bool, num_buckets: int = 32, max_distance: int = 128):
        super().__init__()
        self.bidirectional = bidirectional
        self.num_buckets = num_buckets
        self.max_distance = max_distance
        self.relative_attention_bias = nn.Embedding(num_buckets, heads_num)

    def forward(self, q_length: int, k_length: int, q_offset: int = 0) -> torch.Tensor:
        """Returns [1 x heads_num x q_length x k_length]; queries sit at positions q_offset.."""
        device = self.relative_attention_bias.weight.device
        query_position = torch.arange(q_offset, q_offset + q_length, device=device)[:, None]
        key_position = torch.arange(k_length, device=device)[None, :]
        buckets = relative_position_bucket(key_position - query_position, self.bidirectional,
                                           self.num_buckets, self.max_distance)
        return self.relative_attention_bias(buckets).permute(2, 0, 1).unsqueeze(0)
