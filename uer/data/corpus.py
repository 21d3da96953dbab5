"""Reading a pre-training corpus: up-front checks, splitting into shards, streaming lines.

Shards are byte ranges that start and end on a boundary the target allows (a line end, or a
blank line between documents), so no line or document is ever split or lost between workers.
Each shard knows the number of its first line, so errors name the corpus line exactly.
"""
import logging
import os
import re
from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterable, Iterator, List, Optional, Tuple

import numpy as np

from uer.utils.errors import UserInputError

logger = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20
SAMPLE_BYTES = 1 << 20
BLANK_LINE = re.compile(rb"\n[ \t\r]*\n")  # a newline, then a line of white space only
BOM = "\ufeff"

Line = Tuple[int, str]  # (1-based line number, text without its line ending)


@dataclass(frozen=True)
class Shard:
    index: int
    start: int  # byte offset of the first line
    end: int  # byte offset just past the last line
    first_line: int


def decode(data: bytes, path: str, first_line: int) -> str:
    """Strict UTF-8; an invalid byte is reported with the corpus line that holds it."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = first_line + data.count(b"\n", 0, error.start)
        raise UserInputError(f"not valid UTF-8 ({error.reason}, bytes {data[error.start:error.start + 4]!r})",
                             path=path, line=line) from None


def read_sample(path: str) -> Tuple[int, List[Line]]:
    """Check the corpus exists and is not empty; return its size and its first ~1 MB of lines."""
    if not os.path.isfile(path):
        raise UserInputError("corpus file not found", path=path)
    size = os.path.getsize(path)
    if size == 0:
        raise UserInputError("the corpus is empty", path=path)
    with open(path, "rb") as handle:
        data = handle.read(SAMPLE_BYTES)
    if len(data) < size:
        data = data[:data.rfind(b"\n") + 1]  # whole lines only (a huge first line: no sample)
    text = decode(data, path, 1)
    if text.startswith(BOM):
        text = text[1:]
    lines = _split_lines(text)
    if not any(line.strip() for line in lines) and len(data) == size:
        raise UserInputError("the corpus holds only blank lines", path=path)
    return size, list(enumerate(lines, start=1))


def has_blank_line(path: str) -> bool:
    """Whether any line of the file is blank (white space only): the document separator."""
    with open(path, "rb") as handle:
        if not handle.readline().strip():
            return True
        return _find_boundary(handle, 0, BLANK_LINE) is not None


def _split_lines(text: str) -> List[str]:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last line does not start another one
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _find_boundary(handle: BinaryIO, offset: int, pattern: "re.Pattern[bytes]") -> Optional[int]:
    """Byte position just past the first match of ``pattern`` at or after ``offset``."""
    # Start one byte early so a newline right before ``offset`` can end the match.
    base = max(0, offset - 1)
    handle.seek(base)
    buffer = b""
    while True:
        data = handle.read(CHUNK_BYTES)
        if not data:
            return None
        buffer += data
        match = pattern.search(buffer)
        if match:
            return base + match.end()
        keep = buffer.rfind(b"\n")  # a match may begin at the last newline of the buffer
        if keep < 0:
            base, buffer = base + len(buffer), b""
        else:
            base, buffer = base + keep, buffer[keep:]


def _offsets_of_every_kth_line(path: str, k: int) -> Iterator[int]:
    """Byte offsets just past lines k, 2k, 3k, ... (lazily, in one pass)."""
    with open(path, "rb") as handle:
        base, lines = 0, 0
        while True:
            data = handle.read(CHUNK_BYTES * 16)
            if not data:
                return
            ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10) + 1  # just past each "\n"
            first = (-lines - 1) % k  # index in ``ends`` of the next line number divisible by k
            for end in ends[first::k].tolist():
                yield base + end
            lines += ends.size
            base += len(data)


def count_lines_before(path: str, offsets: List[int]) -> List[int]:
    """Number of newlines before each of the sorted byte ``offsets``."""
    counts, total, position = [], 0, 0
    with open(path, "rb") as handle:
        for offset in offsets:
            while position < offset:
                data = handle.read(min(CHUNK_BYTES * 16, offset - position))
                if not data:
                    break
                total += data.count(b"\n")
                position += len(data)
            counts.append(total)
    return counts


def plan_shards(path: str, size: int, parts: int, boundary: str, lines_multiple: int = 0) -> List[Shard]:
    """Split the corpus into at most ``parts`` byte ranges of similar size.

    ``boundary``: ``"line"`` (cut after a newline) or ``"document"`` (cut after a blank line).
    ``lines_multiple`` > 0 only cuts after line numbers that are multiples of it (the buffers of
    ``--full_sentences`` then match those of a single process).
    """
    cuts = [size * k // parts for k in range(1, parts)]
    boundaries: List[int] = []
    if lines_multiple > 0:
        candidates = _offsets_of_every_kth_line(path, lines_multiple)
        for cut in cuts:
            for offset in candidates:
                if offset >= cut:
                    if offset < size:
                        boundaries.append(offset)
                    break
    else:
        pattern = BLANK_LINE if boundary == "document" else re.compile(rb"\n")
        with open(path, "rb") as handle:
            for cut in cuts:
                offset = _find_boundary(handle, cut, pattern)
                if offset is not None and offset < size and (not boundaries or offset > boundaries[-1]):
                    boundaries.append(offset)
    boundaries = sorted(set(b for b in boundaries if 0 < b < size))
    first_lines = [1] + [n + 1 for n in count_lines_before(path, boundaries)] if boundaries else [1]
    starts, ends = [0] + boundaries, boundaries + [size]
    return [Shard(i, s, e, line) for i, (s, e, line) in enumerate(zip(starts, ends, first_lines))]


def iter_shard_lines(path: str, shard: Shard,
                     on_progress: Optional[Callable[[int, int], None]] = None) -> Iterator[Line]:
    """Yield ``(line_number, text)`` for every line of ``shard``, the last one even without ``\\n``.

    ``on_progress(bytes, lines)`` is called after each chunk with the amounts just read.
    """
    line_no = shard.first_line
    with open(path, "rb") as handle:
        handle.seek(shard.start)
        remaining = shard.end - shard.start
        carry = b""
        first = shard.start == 0
        while remaining > 0 or carry:
            data = handle.read(min(CHUNK_BYTES, remaining)) if remaining > 0 else b""
            remaining -= len(data)
            if not data and remaining > 0:
                raise UserInputError("the corpus shrank while it was being read", path=path)
            data = carry + data
            carry = b""
            if remaining > 0:
                cut = data.rfind(b"\n") + 1
                data, carry = data[:cut], data[cut:]
                if not data:
                    continue  # no line end yet: one long line, keep reading
            text = decode(data, path, line_no)
            if first and text.startswith(BOM):
                text = text[1:]
            first = False
            lines = _split_lines(text)
            for line in lines:
                yield line_no, line
                line_no += 1
            if on_progress is not None:
                on_progress(len(data), len(lines))


def iter_documents(lines: Iterable[Line]) -> Iterator[Tuple[int, List[Line]]]:
    """Group lines into documents separated by blank lines: ``(first_line_number, lines)``."""
    document: List[Line] = []
    for line_no, text in lines:
        if text.strip():
            document.append((line_no, text))
        elif document:
            yield document[0][0], document
            document = []
    if document:
        yield document[0][0], document
