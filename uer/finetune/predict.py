"""Batched prediction under ``torch.inference_mode()``: batches sorted by length (little padding),
outputs restored to file order."""
from argparse import Namespace
from typing import Any, Dict, List, Sequence

import numpy as np
import torch
import torch.nn as nn

from uer.finetune.session import to_device
from uer.training.runtime import DistContext, autocast


def predict(model: nn.Module, data: Any, batch_size: int, args: Namespace, ctx: DistContext,
            keys: Sequence[str] = ("logits",), trim: Sequence[str] = ()) -> Dict[str, Any]:
    """Run ``model`` over every example of ``data`` (``eval_batches``/``collate``/``lengths``).

    Returns, per key of the model's output dict, an array [num_examples x ...] in file order
    (floats as float32); keys in ``trim`` hold per-token outputs [batch_size x seq_length] and come
    back as a list of 1-D arrays cut to each example's length.
    """
    model.to(ctx.device)
    was_training = model.training
    model.eval()
    n = len(data)
    chunks: Dict[str, List[np.ndarray]] = {key: [] for key in keys}
    orders: List[np.ndarray] = []
    with torch.inference_mode(), autocast(args, ctx.device):
        for indices in data.eval_batches(batch_size):
            out = model(to_device(data.collate(indices), ctx.device))
            for key in keys:
                value = out[key]
                value = value.float() if value.is_floating_point() else value
                chunks[key].append(value.cpu().numpy())
            orders.append(np.asarray(indices))
    model.train(was_training)
    order = np.concatenate(orders) if orders else np.zeros(0, dtype=np.int64)
    results: Dict[str, Any] = {}
    for key in keys:
        if key in trim:
            rows: List[Any] = [None] * n
            for indices, block in zip(orders, chunks[key]):
                for row, index in enumerate(indices):
                    rows[index] = block[row, :data.lengths[index]]
            results[key] = rows
        else:
            stacked = np.concatenate(chunks[key]) if chunks[key] else np.zeros((0,))
            restored = np.empty_like(stacked)
            restored[order] = stacked
            results[key] = restored
    return results


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64 (probabilities saved for stacking)."""
    shifted = logits.astype(np.float64) - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)
