"""Model inputs: ``[CLS] a [SEP] (b [SEP])`` encoding and :class:`TaskDataset`, a columnar dataset
that pads each batch to its own longest example."""
import logging
import random
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from uer.embeddings import POSITION_TABLES
from uer.finetune.batching import sorted_batches, training_batches
from uer.utils.constants import CLS_TOKEN, PAD_ID, SEP_TOKEN
from uer.utils.errors import UserInputError

logger = logging.getLogger(__name__)


def check_seq_length(seq_length: int, args: Any) -> None:
    """A position table limits the input length: fail early, not in the first forward."""
    if seq_length < 3:
        raise UserInputError(f"--seq_length must be at least 3, got {seq_length}")
    positional = getattr(args, "embedding", "") in POSITION_TABLES
    max_seq_length = getattr(args, "max_seq_length", None)
    if positional and max_seq_length is not None and seq_length > max_seq_length:
        raise UserInputError(f"--seq_length {seq_length} exceeds the model's max_seq_length {max_seq_length} "
                             "(rows of its position table)")


def input_length(args: Any) -> int:
    """``--seq_length`` capped at the position table (tools that read arbitrary text cut it there
    rather than crash in the first forward); at least 3 (``[CLS] x [SEP]``)."""
    if args.seq_length < 3:
        raise UserInputError(f"--seq_length must be at least 3, got {args.seq_length}")
    limit = getattr(args, "max_seq_length", None)
    if getattr(args, "embedding", "") in POSITION_TABLES and limit is not None and args.seq_length > limit:
        logger.info("inputs are cut at the model's max_seq_length %d (--seq_length %d)", limit, args.seq_length)
        return limit
    return args.seq_length


def truncate_pair(len_a: int, len_b: int, budget: int) -> Tuple[int, int]:
    """Longest-first truncation of two token lists to ``budget`` tokens in total."""
    if len_a + len_b <= budget:
        return len_a, len_b
    keep_a = min(len_a, max(budget - len_b, (budget + 1) // 2))
    return keep_a, min(len_b, budget - keep_a)


class PairEncoder:
    """Text -> ids and segments: ``[CLS] a [SEP]`` (seg 1) ``b [SEP]`` (seg 2), at most ``seq_length``."""

    def __init__(self, tokenizer: Any, seq_length: int):
        self.tokenizer = tokenizer
        self.seq_length = seq_length
        vocab = tokenizer.vocab
        vocab.require([CLS_TOKEN, SEP_TOKEN], "sentence classification inputs")
        self.cls_id, self.sep_id = vocab.w2i[CLS_TOKEN], vocab.w2i[SEP_TOKEN]
        self.truncated = 0

    def __call__(self, text_a: str, text_b: Optional[str] = None) -> Tuple[np.ndarray, np.ndarray]:
        a = self.tokenizer.encode(text_a)
        if text_b is None:
            if len(a) > self.seq_length - 2:
                a, self.truncated = a[:self.seq_length - 2], self.truncated + 1
            ids = [self.cls_id] + a + [self.sep_id]
            return np.asarray(ids, dtype=np.int32), np.ones(len(ids), dtype=np.int8)
        b = self.tokenizer.encode(text_b)
        keep_a, keep_b = truncate_pair(len(a), len(b), self.seq_length - 3)
        if keep_a + keep_b < len(a) + len(b):
            self.truncated += 1
        ids = [self.cls_id] + a[:keep_a] + [self.sep_id] + b[:keep_b] + [self.sep_id]
        seg = np.ones(len(ids), dtype=np.int8)
        seg[keep_a + 2:] = 2
        return np.asarray(ids, dtype=np.int32), seg


def pair_dataset(encoder: PairEncoder, texts: Sequence[str], pairs: Optional[Sequence[str]] = None,
                 path: Optional[str] = None) -> "TaskDataset":
    """``src``/``seg`` of ``[CLS] text [SEP] (pair [SEP])`` for each text (prediction inputs)."""
    if pairs is not None and len(pairs) != len(texts):
        raise UserInputError(f"{len(texts)} texts but {len(pairs)} second texts: give one per text")
    encoded = [encoder(text, None if pairs is None else pairs[i]) for i, text in enumerate(texts)]
    return TaskDataset({"src": [ids for ids, _ in encoded], "seg": [seg for _, seg in encoded]}, path=path)


def _column(values: Sequence[Any]) -> np.ndarray:
    """Fixed-size values as one array: integers int64 (class ids), floats float32 (teacher logits)."""
    array = np.asarray(values)
    return array.astype(np.float32) if array.dtype.kind == "f" else array.astype(np.int64)


def pad_stack(values: Sequence[np.ndarray], pad: int = PAD_ID, dtype: Any = np.int64) -> np.ndarray:
    """Stack arrays whose last dimension varies, padding it to the longest: [n x ... x max_len]."""
    first = np.asarray(values[0])
    width = max(np.shape(v)[-1] for v in values)
    out = np.full((len(values),) + first.shape[:-1] + (width,), pad, dtype=dtype)
    for row, value in enumerate(values):
        out[row, ..., :np.shape(value)[-1]] = value
    return out


class TaskDataset:
    """Examples stored by column. ``sequences`` are padded per batch (``src``, ``seg``, token-level
    ``tgt``, ...), ``fixed`` columns are stacked as they are (a class id, teacher logits).

    ``lengths[i]`` (the longest sequence of example i) drives length bucketing. ``collate`` turns
    a list of example indices into a dict of CPU tensors; sequences become [batch_size x max_len].
    ``loss_tokens`` names the sequence whose real tokens a head averages its loss over (tagging);
    by default the loss is a mean over examples. It weights the micro-batches of a batch.
    """

    def __init__(self, sequences: Dict[str, List[np.ndarray]], fixed: Optional[Dict[str, Sequence[Any]]] = None,
                 pad_values: Optional[Dict[str, int]] = None, path: Optional[str] = None,
                 constants: Optional[Dict[str, Any]] = None):
        self.sequences = sequences
        self.fixed = {name: _column(values) for name, values in (fixed or {}).items()}
        self.pad_values = pad_values or {}
        self.path = path
        self.constants = constants or {}
        self.meta: Dict[str, Any] = {}
        self.loss_tokens: Optional[str] = None
        first = next(iter(sequences.values()))
        self.lengths = np.fromiter((max(np.shape(s)[-1] for s in row) for row in zip(*sequences.values())),
                                   dtype=np.int64, count=len(first))
        if len(self.lengths) == 0:
            raise UserInputError("no examples: the file has a header but no data lines", path=path)

    def __len__(self) -> int:
        return len(self.lengths)

    def subset(self, indices: Sequence[int]) -> "TaskDataset":
        """A dataset of the given examples (cross-validation folds)."""
        indices = list(indices)
        subset = TaskDataset({k: [v[i] for i in indices] for k, v in self.sequences.items()},
                             {k: v[indices] for k, v in self.fixed.items()}, self.pad_values, self.path,
                             self.constants)
        subset.loss_tokens = self.loss_tokens
        return subset

    def with_constants(self, **constants: Any) -> "TaskDataset":
        """The same examples; every batch also carries ``constants`` (e.g. ``task=2``)."""
        view = TaskDataset.__new__(TaskDataset)
        view.__dict__.update(self.__dict__)
        view.constants = {**self.constants, **constants}
        return view

    def train_batches(self, batch_size: int, rng: random.Random, order: str = "random", micro_batches: int = 1,
                      bucket_batches: int = 100) -> List[List[np.ndarray]]:
        """One epoch of batches, each a list of micro-batches (see :mod:`uer.data.batch_order`)."""
        return training_batches(self.lengths, batch_size, rng, order, micro_batches, bucket_batches)

    def loss_weight(self, indices: Sequence[int]) -> int:
        """What the head's mean loss over these examples is a mean over: examples, or real tokens."""
        if self.loss_tokens is None:
            return len(indices)
        values = self.sequences[self.loss_tokens]
        return int(sum(np.shape(values[i])[-1] for i in indices))

    def eval_batches(self, batch_size: int) -> List[np.ndarray]:
        return sorted_batches(self.lengths, batch_size)

    def collate(self, indices: Sequence[int]) -> Dict[str, Any]:
        batch: Dict[str, Any] = {}
        for name, values in self.sequences.items():
            batch[name] = torch.from_numpy(pad_stack([values[i] for i in indices], self.pad_values.get(name, PAD_ID)))
        for name, values in self.fixed.items():
            batch[name] = torch.from_numpy(values[np.asarray(indices)])
        batch.update(self.constants)
        return batch


class MixedBatches:
    """Training batches of several datasets, each batch from one of them, shuffled together every
    epoch (multi-task learning). Batch items are ``(dataset index, example indices)``."""

    def __init__(self, datasets: Sequence[TaskDataset]):
        self.datasets = list(datasets)

    def __len__(self) -> int:
        return sum(len(d) for d in self.datasets)

    def train_batches(self, batch_size: int, rng: random.Random, order: str = "random", micro_batches: int = 1,
                      bucket_batches: int = 100) -> List[List[Tuple[int, np.ndarray]]]:
        items = [[(t, piece) for piece in batch] for t, data in enumerate(self.datasets)
                 for batch in data.train_batches(batch_size, rng, order, micro_batches, bucket_batches)]
        rng.shuffle(items)
        return items

    def loss_weight(self, item: Tuple[int, np.ndarray]) -> int:
        task, indices = item
        return self.datasets[task].loss_weight(indices)

    def collate(self, item: Tuple[int, np.ndarray]) -> Dict[str, Any]:
        task, indices = item
        return self.datasets[task].collate(indices)
