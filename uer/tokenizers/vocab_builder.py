"""Build a vocabulary from a corpus: count tokens (optionally in several processes), rank, write.

Lines are split by the registered ``char``/``space`` tokenizers themselves, so a built vocabulary
matches what they produce later; their splitting does not depend on the vocabulary, so they run on
a placeholder one. ``bert`` (WordPiece) needs an existing vocabulary and cannot build one.
"""
import collections
import concurrent.futures
import logging
import multiprocessing
import os
from typing import Callable, Counter, Iterable, List, Optional, Tuple

from uer.tokenizers import TOKENIZERS
from uer.tokenizers.vocab import Vocab
from uer.utils.constants import SPECIAL_TOKENS
from uer.utils.errors import UserInputError
from uer.utils.textfile import decode_line, require_file

logger = logging.getLogger(__name__)

# Tokenizers whose splitting needs no vocabulary.
BUILD_TOKENIZERS = ("char", "space")


def _splitter(tokenizer: str) -> Callable[[str], List[str]]:
    return TOKENIZERS.get(tokenizer)(Vocab.from_tokens(SPECIAL_TOKENS)).tokenize

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
    split = _splitter(tokenizer)
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
    if tokenizer not in BUILD_TOKENIZERS:
        raise UserInputError(f"--tokenizer must be one of {', '.join(BUILD_TOKENIZERS)} to build a "
                             f"vocabulary, got '{tokenizer}'")
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
    # A vocab line's token is its first whitespace-separated field and a blank line is " ", so the
    # space character (of the char tokenizer) can be stored; other white space and the empty
    # tokens of repeated spaces (space tokenizer) cannot.
    return token == " " or (bool(token) and not any(char.isspace() for char in token))


def select_tokens(counts: Counter, min_count: int = 1, max_size: Optional[int] = None,
                  unused_num: int = 0) -> List[str]:
    """Vocabulary order: BERT's special tokens, ``[unused<i>]`` slots, then by descending count.

    Ties are broken by code point order so the result is deterministic. ``max_size`` caps the
    total size, special tokens included.
    """
    # Named [unused1].. as in Google's Chinese vocabulary, though placed after the special tokens.
    reserved = list(SPECIAL_TOKENS) + [f"[unused{i}]" for i in range(1, unused_num + 1)]
    if max_size is not None and max_size < len(reserved):
        raise UserInputError(f"--max_size {max_size} is smaller than the {len(reserved)} reserved tokens")
    reserved_set = set(reserved)
    unstorable = {token: count for token, count in counts.items() if not _representable(token)}
    if unstorable:
        logger.warning("left out %d white-space/empty token type(s) (%d occurrences) that a vocab "
                       "line cannot hold: %s; they map to [UNK]", len(unstorable),
                       sum(unstorable.values()), " ".join(repr(t) for t in sorted(unstorable)[:10]))
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


def build_vocab(corpus_paths: Iterable[str], vocab_path: str, tokenizer: str = "char",
                workers_num: int = 1, min_count: int = 1, max_size: Optional[int] = None,
                unused_num: int = 0) -> List[str]:
    """Count the tokens of every corpus, select (see :func:`select_tokens`) and write the vocab."""
    counts: Counter = collections.Counter()
    corpus_paths = list(corpus_paths)
    for path in corpus_paths:
        counts.update(count_tokens(path, tokenizer, workers_num))
    if not counts:  # a vocabulary of special tokens only would let every later step run on [UNK]s
        raise UserInputError("no token found: the corpus is empty or blank", path=", ".join(corpus_paths))
    tokens = select_tokens(counts, min_count, max_size, unused_num)
    Vocab.from_tokens(tokens).save(vocab_path)
    logger.info("wrote %d tokens to %s", len(tokens), vocab_path)
    return tokens
