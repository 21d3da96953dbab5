"""Sentence vectors: the pooled encoder output of ``[CLS] text [SEP]``, behind
scripts/extract_features.py and ``uer.load(...).encode``."""
import numpy as np
import torch
import torch.nn as nn

from uer.finetune.inputs import TaskDataset
from uer.utils.pooling import pool


def sentence_vectors(backbone: nn.Module, data: TaskDataset, batch_size: int, pooling: str) -> torch.Tensor:
    """[N x hidden_size] float32 on the CPU, in input order; ``backbone`` holds ``embedding`` and
    ``encoder`` (eval mode); batches are sorted by length so that little padding is computed."""
    device = next(backbone.parameters()).device
    embedding, encoder = backbone["embedding"], backbone["encoder"]
    vectors = None
    with torch.inference_mode():
        for indices in data.eval_batches(batch_size):
            batch = data.collate(indices)
            src, seg = batch["src"].to(device), batch["seg"].to(device)
            pooled = pool(encoder(embedding(src, seg), seg), seg, pooling).float().cpu()
            if vectors is None:
                vectors = torch.empty(len(data), pooled.shape[-1])
            vectors[torch.from_numpy(np.asarray(indices))] = pooled
    return vectors if vectors is not None else torch.empty(0, 0)
