"""The pre-training batch loader: memory-mapped, sharded by rank, length-bucketed, endless, resumable.

Order of the instances a rank serves (all of it derived from ``(seed, rank, epoch, ...)``, so a
position ``(epoch, buffer, batch)`` is enough to resume exactly, without replaying data):

1. the rank owns instances ``i`` with ``i % world_size == rank``;
2. its share is cut into buffers of ``instances_buffer_size`` consecutive instances (contiguous
   reads), visited in a random order that changes every epoch;
3. a buffer is shuffled and cut into batches, which are shuffled. With ``batch_order="random"``
   each batch is a random sample of the buffer, cut into at most ``micro_batches`` length-sorted
   micro-batches (:func:`uer.data.batch_order.split_by_length`); with ``"bucketed"`` chunks of
   ``bucket_batches`` batches are sorted by length before the cut (least padding, but batches of
   one length: the losses of short instances weigh more);
4. each (micro-)batch is padded to its longest instance; dynamically masked datasets are masked
   here, with fresh random masks every time an instance is served.

A batch cut into several micro-batches is served as a list of batch dicts (the trainer weights
their losses so that the update is the one of the whole batch), a whole batch as one dict.

Pre-training has no epochs for the trainer: the loader cycles forever.
"""
import logging
from typing import Any, Dict, Iterator, List, Optional, Union

import numpy as np
import torch

from uer.data.batch_order import BATCH_ORDERS, split_by_length
from uer.data.format import DatasetFile, vocab_fingerprint
from uer.data.masking import Masker, MaskingConfig
from uer.data.processors import DATA_PROCESSORS
from uer.embeddings import POSITION_TABLES
from uer.utils.errors import UserInputError

logger = logging.getLogger(__name__)


class PretrainDataset:
    """A dataset file written by preprocess.py, memory-mapped, with its target's collate function."""

    def __init__(self, path: str):
        self.path = path
        self.file = DatasetFile(path)
        self.header = self.file.header
        self.target = self.header["target"]
        if self.target not in DATA_PROCESSORS:
            raise UserInputError(f"the dataset was built for an unknown target '{self.target}'", path=path)
        self.processor = DATA_PROCESSORS.get(self.target)
        self.src = self.file.ragged("src")

    def __len__(self) -> int:
        return len(self.file)

    @property
    def dynamic_masking(self) -> bool:
        masking = self.header.get("masking")
        return bool(masking) and masking.get("mode") == "dynamic"

    def lengths(self, indices: np.ndarray) -> np.ndarray:
        return self.src.lengths(indices)

    def check_vocab(self, vocab: Any, tgt_vocab: Any = None) -> None:
        """Raise UserInputError unless ``vocab`` (and ``tgt_vocab``) are the ones the dataset was built with."""
        pairs = [("vocab", vocab, "--vocab_path/--spm_model_path")]
        if tgt_vocab is not None and "tgt_vocab" in self.header:
            pairs.append(("tgt_vocab", tgt_vocab, "--tgt_vocab_path/--tgt_spm_model_path"))
        for key, given, flags in pairs:
            if given is None:
                continue
            expected, actual = self.header[key], vocab_fingerprint(given)
            if getattr(given, "path", None):
                flags += f" {given.path}"
            if expected["size"] != actual["size"]:
                raise UserInputError(f"the dataset was built with a vocabulary of {expected['size']} tokens, but "
                                     f"{flags} gives {actual['size']} tokens: use the same vocabulary as "
                                     f"preprocess.py", path=self.path)
            if expected["sha256"] != actual["sha256"]:
                raise UserInputError(f"the dataset was built with a different vocabulary of the same size "
                                     f"({flags}): use the same vocabulary as preprocess.py", path=self.path)

    def collate(self, indices: np.ndarray, masker: Optional[Masker],
                rng: np.random.Generator) -> Dict[str, np.ndarray]:
        """Batch ``indices`` as numpy arrays (see :meth:`DataProcessor.collate`)."""
        return self.processor.collate(self.file, indices, masker, rng)


class PretrainLoader:
    """Endless iterator of batches (dicts of int64 tensors, keys as in docs/architecture.md)."""

    def __init__(self, dataset: PretrainDataset, batch_size: int, rank: int = 0, world_size: int = 1,
                 seed: int = 7, instances_buffer_size: int = 25600, bucket_batches: int = 100,
                 masking: Optional[MaskingConfig] = None, batch_order: str = "random", micro_batches: int = 1):
        if batch_size < 1:
            raise UserInputError("--batch_size must be at least 1")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world size {world_size}")
        self.dataset = dataset
        self.batch_size = batch_size
        self.rank, self.world_size = rank, world_size
        self.seed = seed & 0xFFFFFFFF
        self.share = len(range(rank, len(dataset), world_size))
        if self.share == 0:
            raise UserInputError(f"the dataset holds {len(dataset)} instances, fewer than the "
                                 f"{world_size} processes that share it", path=dataset.path)
        self.buffer_size = max(batch_size, instances_buffer_size)
        if batch_order not in BATCH_ORDERS:
            raise UserInputError(f"unknown batch order '{batch_order}' (expected one of {', '.join(BATCH_ORDERS)})")
        if micro_batches < 1:
            raise UserInputError(f"--micro_batches must be at least 1, got {micro_batches}")
        if bucket_batches < 1:
            raise UserInputError(f"--bucket_batches must be at least 1, got {bucket_batches}")
        self.batch_order, self.micro_batches = batch_order, micro_batches
        self.bucket = (bucket_batches if batch_order == "bucketed" else 1) * batch_size
        self.buffers = (self.share + self.buffer_size - 1) // self.buffer_size
        self.masker = Masker(masking) if masking is not None else None
        if dataset.dynamic_masking and self.masker is None:
            raise ValueError("a dynamically masked dataset needs a masking config")
        self.epoch, self.buffer, self.batch = 0, 0, 0  # the position of the next batch
        self._plan_key: Optional[tuple] = None
        self._plan: List[np.ndarray] = []

    # ---- order -------------------------------------------------------------------------
    def _buffer_indices(self, epoch: int, k: int) -> np.ndarray:
        order = np.random.default_rng([self.seed, self.rank, epoch]).permutation(self.buffers)
        start = int(order[k]) * self.buffer_size
        positions = np.arange(start, min(start + self.buffer_size, self.share), dtype=np.int64)
        return self.rank + positions * self.world_size

    def _batches(self, epoch: int, k: int) -> List[np.ndarray]:
        """The batches (instance indices) of the k-th buffer of an epoch, in serving order."""
        if self._plan_key != (epoch, k):
            rng = np.random.default_rng([self.seed, self.rank, epoch, k])
            indices = rng.permutation(self._buffer_indices(epoch, k))
            batches = []
            for start in range(0, len(indices), self.bucket):
                chunk = indices[start:start + self.bucket]
                if self.batch_order == "bucketed":
                    chunk = chunk[np.argsort(self.dataset.lengths(chunk), kind="stable")]
                batches += [chunk[i:i + self.batch_size] for i in range(0, len(chunk), self.batch_size)]
            self._plan = [batches[i] for i in rng.permutation(len(batches))]
            self._plan_key = (epoch, k)
        return self._plan

    def plan(self, epoch: int) -> Iterator[np.ndarray]:
        """The batches (arrays of instance indices) this rank serves in ``epoch``, in order."""
        for k in range(self.buffers):
            yield from self._batches(epoch, k)

    # ---- iteration ---------------------------------------------------------------------
    def __iter__(self) -> "PretrainLoader":
        return self

    def __next__(self) -> Union[Dict[str, torch.Tensor], List[Dict[str, torch.Tensor]]]:
        batches = self._batches(self.epoch, self.buffer)
        while self.batch >= len(batches):
            self.batch = 0
            self.buffer += 1
            if self.buffer >= self.buffers:
                self.buffer, self.epoch = 0, self.epoch + 1
            batches = self._batches(self.epoch, self.buffer)
        indices = batches[self.batch]
        rng = np.random.default_rng([self.seed, self.rank, self.epoch, self.buffer, self.batch, 1])
        self.batch += 1
        if self.micro_batches > 1:
            lengths = self.dataset.lengths(indices)
            pieces = split_by_length(np.arange(len(indices)), lengths, self.micro_batches)
            if len(pieces) > 1:
                return [self._collate(indices[piece], rng) for piece in pieces]
        return self._collate(indices, rng)

    def _collate(self, indices: np.ndarray, rng: np.random.Generator) -> Dict[str, torch.Tensor]:
        arrays = self.dataset.collate(indices, self.masker, rng)
        return {key: torch.from_numpy(np.ascontiguousarray(value, dtype=np.int64)) for key, value in arrays.items()}

    # ---- resuming ----------------------------------------------------------------------
    def state_dict(self) -> Dict[str, int]:
        """The position of the next batch (plus what it depends on); every random choice is
        derived from these numbers, so they are all the RNG state there is."""
        return {"epoch": self.epoch, "buffer": self.buffer, "batch": self.batch, "seed": self.seed,
                "rank": self.rank, "world_size": self.world_size, "batch_size": self.batch_size,
                "instances_buffer_size": self.buffer_size, "instances": len(self.dataset)}

    def load_state_dict(self, state: Dict[str, int]) -> None:
        layout = ("seed", "rank", "world_size", "batch_size", "instances_buffer_size", "instances")
        changed = [key for key in layout if state.get(key) != self.state_dict()[key]]
        self.epoch = int(state["epoch"])
        if changed:
            # Another layout cannot continue the same sequence: go on from the same epoch and a
            # proportional buffer, without repeating the epoch from its start.
            old_share = -(-int(state["instances"]) // int(state["world_size"]))
            old_buffers = max(1, -(-old_share // int(state["instances_buffer_size"])))
            self.buffer = min(self.buffers - 1, int(state["buffer"]) * self.buffers // old_buffers)
            self.batch = 0
            logger.warning("data loader resumed with a different %s: continuing from epoch %d, buffer %d/%d",
                           "/".join(changed), self.epoch, self.buffer, self.buffers)
        else:
            self.buffer, self.batch = int(state["buffer"]), int(state["batch"])

    @property
    def epoch_progress(self) -> float:
        """Fraction of the current epoch served (counted in buffers; for logs)."""
        return self.buffer / self.buffers


def masking_from(dataset: PretrainDataset, args: Any = None) -> Optional[MaskingConfig]:
    """The dynamic-masking config: the dataset's, with pretrain.py's span flags when given."""
    if not dataset.dynamic_masking:
        if args is not None and getattr(args, "span_masking", False) and dataset.header.get("masking"):
            logger.warning("--span_masking has no effect: %s holds static masks (preprocess.py decided them; "
                           "build it with --dynamic_masking to mask while training)", dataset.path)
        return None
    config = dict(dataset.header["masking"])
    config.pop("mode", None)
    if args is not None and getattr(args, "span_masking", False):
        config.update(span_masking=True, span_geo_prob=getattr(args, "span_geo_prob", config["span_geo_prob"]),
                      span_max_length=getattr(args, "span_max_length", config["span_max_length"]))
    return MaskingConfig.from_dict(config)


def check_fits_options(dataset: PretrainDataset, args: Any) -> None:
    """The dataset must be built for the target being trained, and its instances must fit the
    model's position table (otherwise the first long batch would crash deep in the embedding)."""
    target = getattr(args, "data_processor", None) or getattr(args, "target", None)
    if target is not None and target != dataset.target:
        raise UserInputError(f"the dataset was built for --target {dataset.target}, but the model is trained with "
                             f"--target {target}: re-run preprocess.py with --target {target} (or train with "
                             f"--target {dataset.target})", path=dataset.path)
    limit = getattr(args, "max_seq_length", None)
    if limit is None or not len(dataset):
        return
    # Stored rows may hold a token more than the input (lm: src = row[:-1]); --seq_length bounds the input.
    header = dataset.header
    longest_src = min(int(dataset.src.lengths().max()), header.get("seq_length") or np.iinfo(np.int64).max)
    sides = [("src", longest_src, "embedding", "--seq_length")]
    if dataset.target == "seq2seq":  # the decoder reads tgt[:-1]
        longest_tgt = int(dataset.file.ragged("tgt").lengths().max()) - 1
        sides.append(("tgt", min(longest_tgt, header.get("tgt_seq_length") or longest_tgt), "tgt_embedding",
                      "--tgt_seq_length"))
    elif dataset.target == "t5":  # the decoder reads the masked spans, never longer than the source
        sides.append(("tgt", longest_src, "tgt_embedding", "--seq_length"))
    for side, length, embedding, flag in sides:
        if getattr(args, embedding, None) in POSITION_TABLES and length > limit:
            raise UserInputError(f"the dataset holds {side} sequences of {length} tokens, more than the model's "
                                 f"max_seq_length {limit} (rows of its position table): re-run preprocess.py with "
                                 f"{flag} {limit} or less, or use a larger max_seq_length", path=dataset.path)


def build_pretrain_loader(path: Any, batch_size: Optional[int] = None, rank: int = 0, world_size: int = 1,
                          seed: Optional[int] = None, args: Any = None, vocab: Any = None, tgt_vocab: Any = None,
                          instances_buffer_size: Optional[int] = None, bucket_batches: Optional[int] = None,
                          batch_order: Optional[str] = None, micro_batches: Optional[int] = None) -> PretrainLoader:
    """Open the dataset and return this rank's loader, after checking it against the vocabulary.

    ``path`` may also be the resolved options (``build_pretrain_loader(args, rank=r, world_size=n)``):
    ``dataset_path``, ``batch_size``, ``seed``, ``instances_buffer_size``, ``batch_order`` (default
    random), ``micro_batches`` (default 1), the span-masking flags,
    and the vocabulary options (loaded to check them when ``vocab`` is not given) come from it.
    """
    if not isinstance(path, (str, bytes)) and hasattr(path, "dataset_path"):
        args, path = path, path.dataset_path
    batch_size = batch_size if batch_size is not None else getattr(args, "batch_size", 32)
    seed = seed if seed is not None else getattr(args, "seed", 7)
    dataset = PretrainDataset(path)
    has_vocab = getattr(args, "vocab_path", None) or getattr(args, "spm_model_path", None)
    if vocab is None and has_vocab:
        from uer.tokenizers.vocab import load_vocab_from_args

        vocab = load_vocab_from_args(args)
        if getattr(args, "tgt_vocab_path", None) or getattr(args, "tgt_spm_model_path", None):
            tgt_vocab = load_vocab_from_args(args, "tgt_")
    dataset.check_vocab(vocab, tgt_vocab)
    if args is not None:
        check_fits_options(dataset, args)
    if instances_buffer_size is None:
        instances_buffer_size = getattr(args, "instances_buffer_size", None) or 25600
    if bucket_batches is None:
        bucket_batches = getattr(args, "bucket_batches", None)
        bucket_batches = 100 if bucket_batches is None else bucket_batches
    loader = PretrainLoader(dataset, batch_size, rank, world_size, seed, instances_buffer_size, bucket_batches,
                            masking_from(dataset, args), batch_order or getattr(args, "batch_order", "random"),
                            getattr(args, "micro_batches", 1) if micro_batches is None else micro_batches)
    logger.info("dataset %s: %d instances for --target %s (%s masking); rank %d of %d serves %d", path,
                len(dataset), dataset.target, (dataset.header.get("masking") or {}).get("mode", "no"),
                rank, world_size, loader.share)
    return loader
