"""The on-disk pre-training dataset: one file, a JSON header, then flat memory-mappable arrays.

Layout (all integers little-endian)::

    bytes 0-7    magic b"UERDSET\\n"
    bytes 8-15   header length H (uint64)
    bytes 16-..  header: UTF-8 JSON, H bytes (space padded so the first array is 64-byte aligned)
    ...          the arrays, each starting at a multiple of 64 bytes

The header holds the format version, the target, sequence lengths, the vocabulary fingerprint,
the masking mode, counts, and ``arrays``: ``name -> {"dtype", "shape", "offset"}``. A variable
length field ``f`` (token ids, masked positions...) is stored unpadded as ``f.data`` (all
instances concatenated), ``f.lengths`` (``[instances]``, the smallest unsigned dtype that fits)
and ``f.index`` (the start of every ``BLOCK``-th instance in ``f.data``): instance ``i`` starts at
``f.index[i // BLOCK] + f.lengths[i - i % BLOCK:i].sum()``. This sparse index costs ~1 byte per
instance instead of the 4-8 of a full offsets array (short instances make that count).
Several data arrays may share one index (``mlm.pos`` and ``mlm.tgt``). Readers map the file
once (``np.memmap``), so a training process only pages in what it reads.
"""
import hashlib
import json
import logging
import os
import struct
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, Iterator, Optional, Sequence, Tuple

import numpy as np

from uer.utils.errors import UserInputError
from uer.utils.textfile import atomic_write

logger = logging.getLogger(__name__)

MAGIC = b"UERDSET\n"
FORMAT_VERSION = 1
ALIGN = 64
BLOCK = 64  # instances per entry of a ragged field's sparse index
_PREFIX = struct.Struct("<8sQ")


def token_dtype(vocab_size: int) -> np.dtype:
    """The smallest dtype holding every id of a vocabulary (uint16 covers 65536 tokens)."""
    return np.dtype("<u2") if vocab_size <= 1 << 16 else np.dtype("<i4")


def position_dtype(max_value: int) -> np.dtype:
    """The smallest unsigned dtype holding ``0 .. max_value``."""
    for dtype in ("u1", "<u2", "<u4"):
        if max_value <= np.iinfo(np.dtype(dtype)).max:
            return np.dtype(dtype)
    return np.dtype("<i8")


def vocab_fingerprint(vocab: Any) -> Dict[str, Any]:
    """``{"size", "sha256"}`` of a vocabulary's tokens in id order, to tie a dataset to its vocab."""
    i2w = vocab.i2w
    tokens = i2w if isinstance(i2w, (list, tuple)) else [i2w[i] for i in range(len(vocab))]
    digest = hashlib.sha256("\n".join(tokens).encode("utf-8")).hexdigest()
    return {"size": len(tokens), "sha256": digest}


@dataclass
class ArraySpec:
    """An array to write: its dtype, its shape and a callable yielding its content in order."""

    dtype: np.dtype
    shape: Tuple[int, ...]
    chunks: Callable[[], Iterable[np.ndarray]]

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize


def _aligned(position: int) -> int:
    return (position + ALIGN - 1) // ALIGN * ALIGN


def write_container(path: str, header: Dict[str, Any], arrays: Dict[str, ArraySpec]) -> int:
    """Write ``header`` and ``arrays`` to ``path`` atomically; returns the file size in bytes.

    The arrays are streamed chunk by chunk, so memory stays bounded whatever their size.
    """
    header = dict(header, format_version=FORMAT_VERSION, arrays={})
    # The header records array offsets, which depend on the header's own length: reserve room
    # with a generous estimate, then pad the JSON with spaces up to the reserved size.
    for name, spec in arrays.items():
        header["arrays"][name] = {"dtype": np.dtype(spec.dtype).str, "shape": list(spec.shape), "offset": 0}
    reserved = _aligned(_PREFIX.size + len(json.dumps(header).encode("utf-8")) + 32 * len(arrays) + 256)
    position = reserved
    for name, spec in arrays.items():
        header["arrays"][name]["offset"] = position
        position = _aligned(position + spec.nbytes)
    text = json.dumps(header, ensure_ascii=False).encode("utf-8")
    header_len = reserved - _PREFIX.size
    if len(text) > header_len:
        raise AssertionError("dataset header larger than its reserved space")
    text += b" " * (header_len - len(text))

    with atomic_write(path, "wb") as handle:
        handle.write(_PREFIX.pack(MAGIC, header_len))
        handle.write(text)
        for name, spec in arrays.items():
            start = header["arrays"][name]["offset"]
            handle.write(b"\0" * (start - handle.tell()))
            written = 0
            for chunk in spec.chunks():
                chunk = np.ascontiguousarray(chunk, dtype=spec.dtype)
                handle.write(chunk.tobytes())
                written += chunk.nbytes
            if written != spec.nbytes:
                raise AssertionError(f"array {name}: wrote {written} bytes, expected {spec.nbytes}")
        handle.write(b"\0" * (position - handle.tell()))
        handle.flush()
        os.fsync(handle.fileno())
    return position


class RaggedArray:
    """Variable-length rows over flat memory-mapped arrays (see the module docstring)."""

    def __init__(self, lengths: np.ndarray, index: np.ndarray, **data: np.ndarray):
        self._lengths = lengths
        self._index = index
        self.data = data

    def __len__(self) -> int:
        return len(self._lengths)

    def lengths(self, indices: Optional[Sequence[int]] = None) -> np.ndarray:
        """Row lengths (int64), of ``indices`` only when given."""
        if indices is None:
            return np.asarray(self._lengths, dtype=np.int64)
        return np.asarray(self._lengths[np.asarray(indices, dtype=np.int64)], dtype=np.int64)

    def span(self, i: int) -> Tuple[int, int]:
        """``(start, end)`` of row ``i`` in the data arrays."""
        block = i // BLOCK
        start = int(self._index[block]) + int(self._lengths[block * BLOCK:i].sum(dtype=np.int64))
        return start, start + int(self._lengths[i])

    def row(self, i: int, name: str = "data") -> np.ndarray:
        start, end = self.span(i)
        return self.data[name][start:end]


class DatasetFile:
    """A dataset file opened read-only: ``header``, named arrays and ragged fields, all memory-mapped."""

    def __init__(self, path: str):
        self.path = path
        if not os.path.isfile(path):
            raise UserInputError("dataset file not found (run preprocess.py first)", path=path)
        with open(path, "rb") as handle:
            prefix = handle.read(_PREFIX.size)
            if not prefix:
                raise UserInputError("the file is empty: expected a dataset written by preprocess.py", path=path)
            if len(prefix) < _PREFIX.size or not prefix.startswith(MAGIC):
                hint = (" (it looks like the pickle stream of the original UER-py: re-run preprocess.py)"
                        if prefix[:1] == b"\x80" else " (expected a dataset written by preprocess.py)")
                raise UserInputError(f"not a uer dataset file{hint}", path=path)
            _, header_len = _PREFIX.unpack(prefix)
            try:
                self.header: Dict[str, Any] = json.loads(handle.read(header_len).decode("utf-8"))
            except ValueError:
                raise UserInputError("corrupt dataset header", path=path) from None
        version = self.header.get("format_version")
        if version != FORMAT_VERSION:
            raise UserInputError(f"dataset format version {version}, this uer reads version "
                                 f"{FORMAT_VERSION}: re-run preprocess.py", path=path)
        size = os.path.getsize(path)
        self._map = np.memmap(path, dtype=np.uint8, mode="r")
        self.arrays: Dict[str, np.ndarray] = {}
        self._ragged: Dict[str, RaggedArray] = {}
        for name, meta in self.header["arrays"].items():
            dtype, shape = np.dtype(meta["dtype"]), tuple(meta["shape"])
            nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            if meta["offset"] + nbytes > size:
                raise UserInputError("dataset file is truncated (an interrupted copy?)", path=path)
            raw = self._map[meta["offset"]:meta["offset"] + nbytes]
            self.arrays[name] = raw.view(dtype).reshape(shape)

    def __len__(self) -> int:
        return int(self.header["counts"]["instances"])

    def has(self, name: str) -> bool:
        return name in self.arrays or f"{name}.lengths" in self.arrays

    def ragged(self, name: str) -> RaggedArray:
        """The variable-length field ``name`` (its ``<name>.<x>`` data arrays keyed ``x``)."""
        if name not in self._ragged:
            prefix = name + "."
            data = {key[len(prefix):]: value for key, value in self.arrays.items()
                    if key.startswith(prefix) and key not in (prefix + "lengths", prefix + "index")}
            self._ragged[name] = RaggedArray(self.arrays[prefix + "lengths"], self.arrays[prefix + "index"], **data)
        return self._ragged[name]

    def array(self, name: str) -> np.ndarray:
        return self.arrays[name]


def concat_files(paths: Sequence[str], dtype: np.dtype, chunk_items: int = 1 << 18) -> Iterator[np.ndarray]:
    """Stream the raw arrays stored in ``paths`` (in order) in chunks of ``chunk_items`` items."""
    for path in paths:
        if not os.path.exists(path):
            continue
        with open(path, "rb") as handle:
            while True:
                chunk = np.fromfile(handle, dtype=dtype, count=chunk_items)
                if chunk.size == 0:
                    break
                yield chunk


def block_starts(lengths: Iterable[np.ndarray], dtype: np.dtype) -> Iterator[np.ndarray]:
    """From streamed row lengths, the data offset of rows 0, BLOCK, 2 * BLOCK, ... (chunk by chunk)."""
    total, row = 0, 0
    for chunk in lengths:
        chunk = np.asarray(chunk, dtype=np.int64)
        before = np.cumsum(chunk) - chunk + total  # offset of each row of the chunk
        first = (-row) % BLOCK  # first row of the chunk that starts a block
        yield before[first::BLOCK].astype(dtype)
        total += int(chunk.sum())
        row += chunk.size


def blocks(rows: int) -> int:
    """Entries of the sparse index of a ragged field with ``rows`` rows."""
    return (rows + BLOCK - 1) // BLOCK
