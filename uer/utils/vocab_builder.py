"""Build a vocabulary from a corpus: count tokens (optionally in several processes), rank, write.

Tokens are split exactly like the ``char`` and ``space`` tokenizers split text
(``list(line.strip())`` and ``line.strip().split(" ")``); that splitting needs no vocabulary,
unlike the tokenizers themselves, so it is done here directly.
"""
import collections
import concurrent.futures
import logging
import multiprocessing
import os
from typing import Callable, Counter, Dict, Iterable, List, Optional, Sequence, Tuple

from uer.utils.constants import SPECIAL_TOKENS
from uer.utils.errors import UserInputError
from uer.utils.textfile import atomic_write, decode_line, iter_lines, require_file

logger = logging.getLogger(__name__)


def _split_char(text: str) -> List[str]:
    return list(text.strip())


def _split_space(text: str) -> List[str]:
    return text.strip().split(" ")


SPLITTERS: Dict[str, Callable[[str], List[str]]] = {"char": _split_char, "space": _split_space}

# One worker's result: the counts, and (byte offset of the bad line) when a line failed to decode.
_RangeResult = Tuple[Counter, Optional[int]]


def line_aligned_ranges(path: str, parts: int) -> List[Tuple[int, int]]:
    """Cut a file into at most ``parts`` byte ranges ``[start, end)`` that begin at line starts."""
    size = os.path.getsize(path)
    bounds = [0]
    with open(path, "rb") as handle:
        for i in range(1, parts):
            target = size * i // parts
            if target <= bounds[-1]:
                continue
            # Reading from the byte before ``target`` to the end of its line lands on a line start
            # >= target (exactly ``target`` when the previous byte is a newline).
            handle.seek(target - 1)
            handle.readline()
            start = handle.tell()
            if bounds[-1] < start < size:
                bounds.append(start)
    bounds.append(size)
    return [(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1) if bounds[i] < bounds[i + 1]]


def _count_range(path: str, start: int, end: int, tokenizer: str) -> _RangeResult:
    split = SPLITTERS[tokenizer]
    counts: Counter = collections.Counter()
    with open(path, "rb") as handle:
        handle.seek(start)
        offset = start
        while offset < end:
            raw = handle.readline()
            if not raw:
                break
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                return counts, offset
            if offset == 0 and text.startswith("\ufeff"):
                text = text[1:]
            counts.update(split(text))
            offset += len(raw)
    return counts, None


def _raise_decode_error(path: str, offset: int) -> None:
    """Turn a worker's failing byte offset into the file:line error a single pass would raise."""
    with open(path, "rb") as handle:
        line_no = handle.read(offset).count(b"\n") + 1
        decode_line(handle.readline(), path, line_no)
    raise AssertionError("unreachable: the line decoded on the second try")


def count_tokens(path: str, tokenizer: str = "char", workers_num: int = 1) -> Counter:
    """Count the tokens of a UTF-8 corpus; ``workers_num`` processes each count a byte range.

    The result does not depend on ``workers_num``. Undecodable lines raise UserInputError.
    """
    if tokenizer not in SPLITTERS:
        raise UserInputError(f"--tokenizer must be one of {sorted(SPLITTERS)}, got '{tokenizer}'")
    if workers_num < 1:
        raise UserInputError(f"--workers_num must be >= 1, got {workers_num}")
    require_file(path, "corpus")
    ranges = line_aligned_ranges(path, workers_num)
    if len(ranges) <= 1:
        results = [_count_range(path, start, end, tokenizer) for start, end in ranges]
    else:
        # spawn: the workers need nothing from the parent, and fork is unsafe once torch has threads.
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(len(ranges), mp_context=context) as pool:
            futures = [pool.submit(_count_range, path, start, end, tokenizer) for start, end in ranges]
            results = [future.result() for future in futures]
    total: Counter = collections.Counter()
    for counts, bad_offset in results:
        if bad_offset is not None:
            _raise_decode_error(path, bad_offset)
        total.update(counts)
    return total


def _representable(token: str) -> bool:
    # A vocab line's token is its first whitespace-separated field, so tokens holding white space
    # (the space character of the char tokenizer, empty tokens of repeated spaces) cannot be stored.
    return bool(token) and not any(char.isspace() for char in token)


def select_tokens(counts: Counter, min_count: int = 1, max_size: Optional[int] = None,
                  unused_num: int = 0) -> List[str]:
    """Vocabulary order: BERT's special tokens, ``[unused<i>]`` slots, then by descending count.

    Ties are broken by code point order so the result is deterministic. ``max_size`` caps the
    total size, special tokens included.
    """
    reserved = list(SPECIAL_TOKENS) + [f"[unused{i}]" for i in range(unused_num)]
    if max_size is not None and max_size < len(reserved):
        raise UserInputError(f"--max_size {max_size} is smaller than the {len(reserved)} reserved tokens")
    reserved_set = set(reserved)
    unstorable = {token: count for token, count in counts.items() if not _representable(token)}
    if unstorable:
        logger.warning("left out %d white-space/empty token type(s) (%d occurrences): a vocab line "
                       "cannot hold them; they map to [UNK]", len(unstorable), sum(unstorable.values()))
    ranked = sorted(
        (token for token, count in counts.items()
         if count >= min_count and token not in reserved_set and token not in unstorable),
        key=lambda token: (-counts[token], token),
    )
    rare = sum(1 for token, count in counts.items() if count < min_count and token not in unstorable)
    if rare:
        logger.info("left out %d token type(s) seen fewer than %d times", rare, min_count)
    tokens = reserved + ranked
    if max_size is not None and len(tokens) > max_size:
        logger.info("kept the %d most frequent tokens of %d (--max_size)", max_size, len(tokens))
        tokens = tokens[:max_size]
    return tokens


def write_vocab(tokens: Sequence[str], path: str) -> None:
    """Write one token per line, atomically."""
    with atomic_write(path) as handle:
        for token in tokens:
            handle.write(token + "\n")


def read_vocab_tokens(path: str) -> List[str]:
    """Tokens of a vocab file: the first whitespace-separated field of each line (blank -> " ")."""
    tokens = []
    for _, line in iter_lines(path, "vocabulary"):
        fields = line.split()
        tokens.append(fields[0] if fields else " ")
    return tokens


def build_vocab(corpus_paths: Iterable[str], vocab_path: str, tokenizer: str = "char",
                workers_num: int = 1, min_count: int = 1, max_size: Optional[int] = None,
                unused_num: int = 0) -> List[str]:
    """Count the tokens of every corpus, select (see :func:`select_tokens`) and write the vocab."""
    counts: Counter = collections.Counter()
    for path in corpus_paths:
        counts.update(count_tokens(path, tokenizer, workers_num))
    tokens = select_tokens(counts, min_count, max_size, unused_num)
    write_vocab(tokens, vocab_path)
    logger.info("wrote %d tokens to %s", len(tokens), vocab_path)
    return tokens
