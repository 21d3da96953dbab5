"""Batch helpers shared by the processors' ``collate`` functions (the loader side)."""
from typing import List, Optional, Sequence, Tuple

import numpy as np

from uer.data.format import DatasetFile
from uer.data.masking import Masker

def gather(rows: Sequence[np.ndarray], width: Optional[int] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Pad ``rows`` with 0 into ``[batch_size x width]`` (default: the longest row); also the lengths."""
    lengths = np.array([len(row) for row in rows], dtype=np.int64)
    width = int(lengths.max(initial=0)) if width is None else width
    matrix = np.zeros((len(rows), width), dtype=np.int64)
    for i, row in enumerate(rows):
        matrix[i, :len(row)] = row
    return matrix, lengths


def ragged_rows(data: DatasetFile, name: str, indices: Sequence[int], array: str = "data") -> List[np.ndarray]:
    ragged = data.ragged(name)
    return [ragged.row(int(i), array) for i in indices]


def segments(width: int, first: np.ndarray, total: Optional[np.ndarray] = None) -> np.ndarray:
    """Segment ids ``[batch_size x width]``: 1 before ``first``, 2 up to ``total``, 0 (pad) after."""
    cols = np.arange(width)[None, :]
    seg = (cols < first[:, None]).astype(np.int64)
    if total is not None:
        seg += 2 * ((cols >= first[:, None]) & (cols < total[:, None]))
    return seg


def mlm_batch(data: DatasetFile, indices: Sequence[int], masker: Optional[Masker],
              rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(src, tgt_mlm, lengths)``: stored masks (static) or fresh ones from ``masker`` (dynamic)."""
    src, lengths = gather(ragged_rows(data, "src", indices))
    tgt = np.zeros_like(src)
    if data.has("mlm"):
        mlm = data.ragged("mlm")
        for row, index in enumerate(indices):
            tgt[row, mlm.row(int(index), "pos")] = mlm.row(int(index), "tgt")
        return src, tgt, lengths
    if masker is None:
        raise ValueError("a dynamically masked dataset needs a masker")
    starts = None
    if data.has("src") and "word_start" in data.ragged("src").data:
        starts, _ = gather(ragged_rows(data, "src", indices, "word_start"), src.shape[1])
    src, tgt = masker(src, lengths, rng, starts)
    return src, tgt, lengths
