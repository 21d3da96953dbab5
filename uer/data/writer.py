"""Writing instances: per-worker shard files (raw arrays), then one merged dataset file.

A worker appends instances to Python lists (cheap per instance), and every few thousand
instances converts them to numpy, applies static masking to the whole block at once, and
appends the raw bytes to its shard files. Memory is bounded by one block.
"""
import logging
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from uer.data.format import ArraySpec, block_starts, blocks, concat_files, position_dtype, write_container
from uer.data.masking import Masker

logger = logging.getLogger(__name__)

LENGTH_DTYPE = np.dtype("<u4")


@dataclass(frozen=True)
class Field:
    """One per-instance field: ``ragged`` (a variable-length id sequence) or ``fixed`` (``width`` numbers)."""

    name: str
    kind: str
    dtype: np.dtype
    width: int = 1


@dataclass
class ShardSummary:
    """What a worker hands back: instance count, numbers for the header, its array files."""

    index: int
    instances: int = 0
    stats: Dict[str, int] = field(default_factory=dict)
    label_max: int = -1
    max_lengths: Dict[str, int] = field(default_factory=dict)  # per ragged group


class ShardWriter:
    """Buffers instances and appends them to ``<directory>/<shard>.<array>.bin`` files.

    ``masker`` (static masking) replaces the ``src`` ids by their masked version and adds the
    ``mlm`` group (``pos``, ``tgt``). With ``word_flags`` the ``src`` ids arrive encoded as
    ``id * 2 + word_start`` (see :mod:`uer.data.processors.base`); they are decoded here and the
    flags kept as ``src.word_start`` when ``keep_word_starts`` (dynamic whole-word masking).
    """

    def __init__(self, directory: str, index: int, fields: Sequence[Field], seq_length: int,
                 masker: Optional[Masker] = None, rng: Optional[np.random.Generator] = None,
                 word_flags: bool = False, keep_word_starts: bool = False):
        self.directory = directory
        self.summary = ShardSummary(index)
        self.fields = {f.name: f for f in fields}
        self.masker = masker
        self.rng = rng if rng is not None else np.random.default_rng()
        self.word_flags = word_flags
        self.keep_word_starts = keep_word_starts
        self.position_dtype = position_dtype(seq_length)
        # Bound the padded matrices of static masking (~0.5M ids, a few MB each) per block.
        self.flush_every = max(256, (1 << 19) // max(1, seq_length))
        self._values: Dict[str, List[int]] = {name: [] for name in self.fields}
        self._lengths: Dict[str, List[int]] = {f.name: [] for f in fields if f.kind == "ragged"}
        self._count = 0

    def path(self, array: str) -> str:
        return os.path.join(self.directory, f"{self.summary.index:05d}.{array}.bin")

    def add(self, **values: Any) -> None:
        """Add one instance: a sequence per ragged field, a number (or ``width`` numbers) per fixed one."""
        for name, value in values.items():
            if name in self._lengths:
                self._values[name].extend(value)
                self._lengths[name].append(len(value))
            elif self.fields[name].width == 1:
                self._values[name].append(value)
            else:
                self._values[name].extend(value)
        self._count += 1
        if self._count >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        if not self._count:
            return
        arrays: Dict[str, np.ndarray] = {}
        for name, spec in self.fields.items():
            values = np.array(self._values[name], dtype=np.int64)
            if spec.kind == "ragged":
                lengths = np.array(self._lengths[name], dtype=np.int64)
                if len(lengths) != self._count:
                    raise AssertionError(f"field {name}: {len(lengths)} values for {self._count} instances")
                arrays[f"{name}.lengths"] = lengths
                arrays[f"{name}.data"] = values
            else:
                if values.size != self._count * spec.width:
                    raise AssertionError(f"field {name}: {values.size} values for {self._count} instances")
                arrays[name] = values
        if "label" in arrays and arrays["label"].size:
            self.summary.label_max = max(self.summary.label_max, int(arrays["label"].max()))
        self._transform_src(arrays)
        for name, values in arrays.items():
            if name.endswith(".lengths") and values.size:
                group = name[: -len(".lengths")]
                self.summary.max_lengths[group] = max(self.summary.max_lengths.get(group, 0), int(values.max()))
            dtype = self.array_dtype(name)
            with open(self.path(name), "ab") as handle:
                values.astype(dtype).tofile(handle)
        self.summary.instances += self._count
        self.summary.stats["tokens"] = self.summary.stats.get("tokens", 0) + int(arrays["src.lengths"].sum())
        for values in self._values.values():
            values.clear()
        for lengths in self._lengths.values():
            lengths.clear()
        self._count = 0

    def _transform_src(self, arrays: Dict[str, np.ndarray]) -> None:
        flat = arrays["src.data"]
        word_starts = None
        if self.word_flags:
            word_starts = flat & 1
            flat = flat >> 1
            if self.keep_word_starts:
                arrays["src.word_start"] = word_starts
        if self.masker is not None:
            lengths = arrays["src.lengths"]
            rows = np.repeat(np.arange(lengths.size), lengths)
            cols = np.arange(flat.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
            matrix = np.zeros((lengths.size, int(lengths.max())), dtype=np.int64)
            matrix[rows, cols] = flat
            starts = None
            if word_starts is not None:
                starts = np.zeros_like(matrix)
                starts[rows, cols] = word_starts
            masked, labels = self.masker(matrix, lengths, self.rng, starts)
            flat = masked[rows, cols]
            mlm_rows, mlm_cols = np.nonzero(labels)
            arrays["mlm.lengths"] = np.bincount(mlm_rows, minlength=lengths.size)
            arrays["mlm.pos"] = mlm_cols
            arrays["mlm.tgt"] = labels[mlm_rows, mlm_cols]
        arrays["src.data"] = flat

    def array_dtype(self, array: str) -> np.dtype:
        """The dtype of a shard array file (lengths are uint32 here; the merged file narrows them)."""
        if array.endswith(".lengths"):
            return LENGTH_DTYPE
        if array == "src.word_start":
            return np.dtype("u1")
        if array == "mlm.pos":
            return self.position_dtype
        if array == "mlm.tgt":
            return self.fields["src"].dtype
        group, _, _ = array.partition(".")
        return self.fields[group].dtype

    def close(self) -> ShardSummary:
        self.flush()
        return self.summary

    def array_names(self) -> List[str]:
        """Names of the arrays this writer produces (also when it wrote no instance)."""
        names = []
        for spec in self.fields.values():
            names += [f"{spec.name}.lengths", f"{spec.name}.data"] if spec.kind == "ragged" else [spec.name]
        if self.word_flags and self.keep_word_starts:
            names.append("src.word_start")
        if self.masker is not None:
            names += ["mlm.lengths", "mlm.pos", "mlm.tgt"]
        return names


def merge_shards(path: str, header: Dict[str, Any], writer: ShardWriter, directory: str,
                 shards: Sequence[ShardSummary]) -> int:
    """Concatenate the shard files (in shard order) into the dataset file at ``path``, atomically.

    ``writer`` is any writer of the run (it knows the array names and dtypes). Returns the size.
    """
    instances = sum(s.instances for s in shards)

    def files(array: str) -> List[str]:
        return [os.path.join(directory, f"{s.index:05d}.{array}.bin") for s in shards]

    def items(array: str, dtype: np.dtype) -> int:
        return sum(os.path.getsize(p) for p in files(array) if os.path.exists(p)) // dtype.itemsize

    specs: Dict[str, ArraySpec] = {}
    for array in writer.array_names():
        dtype = writer.array_dtype(array)
        if array.endswith(".lengths"):
            group = array[: -len(".lengths")]
            data_name = f"{group}.data" if f"{group}.data" in writer.array_names() else f"{group}.pos"
            total = items(data_name, writer.array_dtype(data_name))
            longest = max([s.max_lengths.get(group, 0) for s in shards] + [0])
            lengths_dtype = position_dtype(longest)
            index_dtype = np.dtype("<u4") if total < 1 << 32 else np.dtype("<i8")
            specs[array] = ArraySpec(lengths_dtype, (instances,),
                                     lambda a=array: concat_files(files(a), LENGTH_DTYPE))
            specs[f"{group}.index"] = ArraySpec(
                index_dtype, (blocks(instances),),
                lambda a=array, d=index_dtype: block_starts(concat_files(files(a), LENGTH_DTYPE), d))
        else:
            spec = writer.fields.get(array)
            count = items(array, dtype)
            shape = (instances, spec.width) if spec is not None and spec.width > 1 else (count,)
            specs[array] = ArraySpec(dtype, shape, lambda a=array, d=dtype: concat_files(files(a), d))
    return write_container(path, header, specs)
