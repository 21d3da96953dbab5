"""Training batch orders, shared by fine-tuning and the pre-training loader: which examples share a
batch, and how a batch is cut into length-sorted micro-batches.

A training batch is what one optimizer step sees. Two orders (``--batch_order``):

- ``random`` (default): every batch is a uniform random sample of the data, as in plain SGD. To
  pad less, a batch is cut into at most ``--micro_batches`` length-sorted micro-batches, each
  padded to its own longest example; their gradients are summed with weights (their share of the
  batch's loss) before the one optimizer step, so the update is the one of the whole batch.
- ``bucketed``: shuffle, sort chunks of 100 batches by length, cut, shuffle the batches. Nearly no
  padding, but each batch holds examples of one length: where the label depends on length (short
  reviews are more often negative) batches carry a skewed label mix, and short runs measured on
  Douban lost 3 points of accuracy and sometimes collapsed to one class (benchmarks/README.md).
"""
import random
from typing import List, Sequence

import numpy as np

BATCH_ORDERS = ("random", "bucketed")
BUCKET_CHUNK_BATCHES = 100
# What one more forward/backward costs beyond its tokens, counted in padded token slots: a piece
# is cut off only when it saves more padding than that (short texts stay one micro-batch). Fitted
# on BERT-mini fine-tuning on 2 CPU cores: ~6 ms per call, ~0.1 ms per slot. More pieces than 4
# did not pay there (Douban, 8 pieces: 123 examples/s against 132 with 4; benchmarks/README.md).
# Fitted before training left padded slots out of the per-token work (uer/layers/token_layout.py),
# which makes a padded slot cheaper; 3, 4 and 6 pieces measured alike after it.
MICRO_BATCH_OVERHEAD_SLOTS = 64


def random_batches(count: int, batch_size: int, rng: random.Random) -> List[np.ndarray]:
    """Every index once, shuffled and cut into batches of ``batch_size`` (the last may be smaller)."""
    order = np.arange(count)
    rng.shuffle(order)
    return [order[i:i + batch_size] for i in range(0, count, batch_size)]


def bucket_batches(lengths: Sequence[int], batch_size: int, rng: random.Random,
                   chunk_batches: int = BUCKET_CHUNK_BATCHES) -> List[np.ndarray]:
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


def split_by_length(batch: np.ndarray, lengths: np.ndarray, max_pieces: int,
                    overhead: int = MICRO_BATCH_OVERHEAD_SLOTS) -> List[np.ndarray]:
    """``batch`` sorted by length and cut into at most ``max_pieces`` contiguous micro-batches so
    that padded slots (examples x longest, plus ``overhead`` per micro-batch) are fewest.

    Dynamic programming over the sorted lengths: ``best[p][j]`` is the cheapest cut of the ``j``
    shortest examples into ``p`` pieces; a piece ``(i, j]`` costs ``(j - i) * length[j - 1]``.
    """
    batch = np.asarray(batch)
    order = batch[np.argsort(lengths[batch], kind="stable")]
    n = len(order)
    if max_pieces <= 1 or n <= 1:
        return [order]
    sorted_lengths = lengths[order].astype(np.int64)
    pieces = min(max_pieces, n)
    inf = np.iinfo(np.int64).max // 4
    best = np.full((pieces + 1, n + 1), inf, dtype=np.int64)
    cut = np.zeros((pieces + 1, n + 1), dtype=np.int64)
    best[0, 0] = 0
    starts = np.arange(n)
    for p in range(1, pieces + 1):
        for j in range(1, n + 1):
            costs = best[p - 1, :j] + (j - starts[:j]) * sorted_lengths[j - 1] + overhead
            i = int(np.argmin(costs))
            best[p, j], cut[p, j] = costs[i], i
    p = int(np.argmin(best[1:, n])) + 1
    bounds, j = [], n
    while p > 0:
        i = int(cut[p, j])
        bounds.append((i, j))
        j, p = i, p - 1
    return [order[i:j] for i, j in reversed(bounds)]


def training_batches(lengths: Sequence[int], batch_size: int, rng: random.Random, order: str = "random",
                     micro_batches: int = 1, chunk_batches: int = BUCKET_CHUNK_BATCHES) -> List[List[np.ndarray]]:
    """One epoch of training batches in ``order``; each batch is a list of micro-batches (batches
    of one length stay whole: cutting them would save no padding)."""
    lengths = np.asarray(lengths)
    if order == "bucketed":
        batches = bucket_batches(lengths, batch_size, rng, chunk_batches)
    elif order == "random":
        batches = random_batches(len(lengths), batch_size, rng)
    else:
        raise ValueError(f"unknown batch order '{order}' (expected one of {', '.join(BATCH_ORDERS)})")
    return [split_by_length(batch, lengths, micro_batches) for batch in batches]
