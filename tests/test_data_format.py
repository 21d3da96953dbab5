"""The dataset file format: round trip, sparse ragged index, memory mapping, corrupt files."""
import json

import numpy as np
import pytest

from uer.data.format import (BLOCK, ArraySpec, DatasetFile, RaggedArray, block_starts, blocks, position_dtype,
                             token_dtype, write_container)
from uer.utils.errors import UserInputError


def ragged_specs(rows, name="src", dtype=np.uint16):
    lengths = np.array([len(r) for r in rows], dtype=np.int64)
    data = np.concatenate(rows).astype(dtype) if rows else np.zeros(0, dtype)
    # stream in uneven chunks to exercise the chunked index computation
    chunks = [lengths[i:i + 37] for i in range(0, len(lengths), 37)]
    return {
        f"{name}.data": ArraySpec(np.dtype(dtype), (data.size,), lambda: [data[:5], data[5:]]),
        f"{name}.lengths": ArraySpec(position_dtype(int(lengths.max(initial=0))), (len(rows),), lambda: chunks),
        f"{name}.index": ArraySpec(np.dtype("<u4"), (blocks(len(rows)),),
                                   lambda: block_starts(chunks, np.dtype("<u4"))),
    }


def test_round_trip_with_sparse_index(tmp_path):
    rng = np.random.default_rng(0)
    rows = [rng.integers(1, 60000, size=rng.integers(0, 300)) for _ in range(3 * BLOCK + 5)]
    labels = np.arange(len(rows), dtype=np.int32)
    specs = ragged_specs(rows)
    specs["label"] = ArraySpec(np.dtype("<i4"), (len(rows),), lambda: [labels])
    path = str(tmp_path / "d.pt")
    size = write_container(path, {"target": "x", "counts": {"instances": len(rows)}, "note": "é"}, specs)
    data = DatasetFile(path)
    assert size == (tmp_path / "d.pt").stat().st_size and len(data) == len(rows)
    assert data.header["note"] == "é" and data.header["format_version"] == 1
    ragged = data.ragged("src")
    assert ragged.data["data"].dtype == np.uint16 and isinstance(ragged.data["data"], np.memmap)
    assert ragged.lengths().tolist() == [len(r) for r in rows]
    for i in [0, 1, BLOCK - 1, BLOCK, BLOCK + 1, 2 * BLOCK + 7, len(rows) - 1]:
        assert ragged.row(i).tolist() == rows[i].tolist()
    assert data.array("label").tolist() == labels.tolist()
    for meta in data.header["arrays"].values():
        assert meta["offset"] % 64 == 0  # aligned, memory-mappable as is
    # plain numpy can read an array from the header alone
    meta = data.header["arrays"]["label"]
    raw = np.memmap(path, dtype=meta["dtype"], mode="r", offset=meta["offset"], shape=tuple(meta["shape"]))
    assert raw.tolist() == labels.tolist()


def test_header_is_json_after_the_magic(tmp_path):
    path = str(tmp_path / "d.pt")
    write_container(path, {"counts": {"instances": 0}}, {})
    with open(path, "rb") as f:
        assert f.read(8) == b"UERDSET\n"
        length = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(length))
    assert header["arrays"] == {}


def test_dtypes():
    assert token_dtype(21128) == np.uint16 and token_dtype(65536) == np.uint16 and token_dtype(65537) == np.int32
    assert position_dtype(255) == np.uint8 and position_dtype(256) == np.uint16


def test_corrupt_files(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"hello world, not a dataset")
    with pytest.raises(UserInputError, match="not a uer dataset"):
        DatasetFile(str(bad))
    with pytest.raises(UserInputError, match="not found"):
        DatasetFile(str(tmp_path / "missing.pt"))
    path = str(tmp_path / "d.pt")
    write_container(path, {"counts": {"instances": 0}}, {})
    raw = bytearray(open(path, "rb").read())
    raw[16:16 + len(b'{"counts"')] = b'{"format_version": 99, "x": 1}'[:len(b'{"counts"')]
    (tmp_path / "v.pt").write_bytes(bytes(raw))
    with pytest.raises(UserInputError):
        DatasetFile(str(tmp_path / "v.pt"))


def test_ragged_array_in_memory():
    ragged = RaggedArray(np.array([2, 0, 3], dtype=np.uint8), np.array([0], dtype=np.uint32),
                         data=np.array([1, 2, 3, 4, 5]))
    assert [ragged.row(i).tolist() for i in range(3)] == [[1, 2], [], [3, 4, 5]]
    assert ragged.lengths([2, 0]).tolist() == [3, 2]
