"""Batch orders: length-bucketed shuffled batches for training, sorted batches for inference.

Padding a batch to its longest example only pays off when examples of similar length share a
batch; bucketing keeps that benefit while the order stays random: shuffle, sort within chunks of
``chunk_batches`` batches, cut, then shuffle the batches.
"""
import random
from typing import List, Sequence, TypeVar

import numpy as np

T = TypeVar("T")


def bucket_batches(lengths: Sequence[int], batch_size: int, rng: random.Random,
                   chunk_batches: int = 100) -> List[np.ndarray]:
    """Every index once, in batches of ``batch_size`` (the last of each chunk may be smaller)."""
    lengths = np.asarray(lengths)
    order = np.arange(len(lengths))
    rng.shuffle(order)
    chunk = batch_size * chunk_batches
    batches: List[np.ndarray] = []
    for start in range(0, len(order), chunk):
        part = order[start:start + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches.extend(part[i:i + batch_size] for i in range(0, len(part), batch_size))
    rng.shuffle(batches)
    return batches


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
