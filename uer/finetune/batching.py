"""Batches of the fine-tuning scripts: training batches in ``--batch_order`` (see
:mod:`uer.data.batch_order`), sorted batches for inference, and each rank's share."""
from typing import List, Sequence, TypeVar

import numpy as np

from uer.data.batch_order import (BATCH_ORDERS, bucket_batches, random_batches, split_by_length,  # noqa: F401
                                  training_batches)

T = TypeVar("T")


def sorted_batches(lengths: Sequence[int], batch_size: int) -> List[np.ndarray]:
    """Indices sorted by decreasing length (the largest batch first: out-of-memory shows at once)."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def shard(batches: List[T], rank: int, world_size: int) -> List[T]:
    """This rank's share of the batches; every rank gets the same count (needed by DDP), so the
    list is topped up with its first batches rather than dropping any."""
    if world_size <= 1:
        return batches
    short = -len(batches) % world_size
    padded = batches + batches[:short]
    return padded[rank::world_size]
