"""Byte-level BPE (Radford et al., 2019: GPT-2; Liu et al., 2019: RoBERTa), read from ``vocab.json``
and ``merges.txt``.

Text is cut into pieces by GPT-2's pre-tokenization pattern, each piece's UTF-8 bytes are written as
printable characters (``byte_to_unicode``: a space is ``Ġ``, a newline ``Ċ``), and the merges apply
in rank order inside each piece. The ids equal ``transformers``' ``GPT2Tokenizer`` /
``RobertaTokenizer`` on the same files (``add_prefix_space`` false). The vocabulary's special
tokens written literally in the text (RoBERTa's ``<s>``, ``</s>``, ``<pad>``, ``<unk>``, ``<mask>``;
GPT-2's ``<|endoftext|>``: ``uer.tokenizers.vocab.bpe_roles``) stay single tokens, as Hugging
Face's added tokens do.
"""
import functools
import heapq
import re
import sys
import unicodedata
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from uer.tokenizers.vocab import Vocab
from uer.utils.errors import UserInputError
from uer.utils.textfile import iter_lines

# Unicode White_Space, the \s of the Rust and Oniguruma regexes behind Hugging Face (Python's \s
# also matches \x1c-\x1f, which they do not).
_WHITE = "\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# Pieces kept in the cache before it is emptied: words repeat (Zipf), a few thousand cover most text.
CACHE_SIZE = 65536


@functools.lru_cache(maxsize=None)
def byte_to_unicode() -> Dict[int, str]:
    """Every byte -> a printable character: printable Latin-1 bytes stand for themselves, the
    others (control characters, space, ...) get the code points from 256 on, in byte order."""
    kept = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table = {b: chr(b) for b in kept}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table


@functools.lru_cache(maxsize=None)
def _pretokenizer() -> "re.Pattern[str]":
    r"""GPT-2's pattern ``'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+``
    in Python's ``re``, which has no ``\p{..}``: letters are word characters that are neither digits
    nor ``_`` nor the few other word characters found once here (numbers outside Nd, marks)."""
    everything = "".join(map(chr, range(sys.maxunicode + 1))).encode("utf-8", "surrogatepass").decode(
        "utf-8", "ignore")  # lone surrogates cannot be in text
    numbers, others = [], []
    for char in re.findall(r"[^\W\d_]", everything):
        category = unicodedata.category(char)
        if category[0] == "N":
            numbers.append(char)
        elif category[0] != "L":
            others.append(char)
    num = re.escape("".join(numbers))
    other = re.escape("".join(others))
    letter = rf"[^\W\d_{num}{other}]"
    number = rf"[\d{num}]"
    symbol = rf"(?:[^\w{_WHITE}]|[_{other}])"
    return re.compile(rf"'s|'t|'re|'ve|'m|'ll|'d| ?{letter}+| ?{number}+| ?{symbol}+"
                      rf"|[{_WHITE}]+(?![^{_WHITE}])|[{_WHITE}]+")


def read_merges(path: str) -> Dict[Tuple[str, str], int]:
    """``merges.txt``: an optional ``#version`` line, then one merge ``left right`` per line, best
    first; the rank is the order."""
    ranks: Dict[Tuple[str, str], int] = {}
    for line_no, line in iter_lines(path):
        if line_no == 1 and line.startswith("#version"):
            continue
        if not line.strip():
            continue
        parts = line.split(" ")
        if len(parts) != 2 or not parts[0] or not parts[1]:
            raise UserInputError(f"expected a merge 'left right' (two tokens and one space), got {line!r}",
                                 path=path, line=line_no)
        ranks.setdefault((parts[0], parts[1]), len(ranks))
    if not ranks:
        raise UserInputError("the merges file holds no merge", path=path)
    return ranks


class ByteLevelBPE:
    """Text -> byte-level BPE tokens, with a cache of the pieces already merged."""

    def __init__(self, vocab: Vocab, ranks: Dict[Tuple[str, str], int]):
        self.vocab = vocab
        self.ranks = ranks
        self.byte_encoder = byte_to_unicode()
        self.pattern = _pretokenizer()
        specials = sorted(set(vocab.aliases.values()), key=len, reverse=True)
        self.special_pattern = re.compile("|".join(map(re.escape, specials))) if specials else None
        self._cache: Dict[str, Tuple[str, ...]] = {}

    def merge(self, piece: str) -> Tuple[str, ...]:
        """The BPE tokens of one pre-token (already mapped to byte characters): the best-ranked pair
        merges first, equal ranks left to right, as Hugging Face's ``tokenizers`` does. A heap of
        candidate pairs keeps long pieces (a Chinese sentence has no spaces) at O(n log n)."""
        symbols: List[str] = list(piece)
        n = len(symbols)
        if n < 2:
            return tuple(symbols)
        ranks = self.ranks
        following = list(range(1, n + 1))  # index of the next live symbol (n: none)
        preceding = list(range(-1, n - 1))
        heap = [(rank, i) for i in range(n - 1) if (rank := ranks.get((symbols[i], symbols[i + 1]))) is not None]
        heapq.heapify(heap)
        while heap:
            rank, i = heapq.heappop(heap)
            j = following[i]
            # Skip stale candidates: a side already merged away or changed since the push.
            if j >= n or not symbols[i] or ranks.get((symbols[i], symbols[j])) != rank:
                continue
            symbols[i] += symbols[j]
            symbols[j] = ""
            following[i] = following[j]
            if following[i] < n:
                preceding[following[i]] = i
                rank = ranks.get((symbols[i], symbols[following[i]]))
                if rank is not None:
                    heapq.heappush(heap, (rank, i))
            if preceding[i] >= 0:
                rank = ranks.get((symbols[preceding[i]], symbols[i]))
                if rank is not None:
                    heapq.heappush(heap, (rank, preceding[i]))
        return tuple(symbol for symbol in symbols if symbol)

    def _piece_tokens(self, word: str) -> Tuple[str, ...]:
        tokens = self._cache.get(word)
        if tokens is None:
            encoder = self.byte_encoder
            tokens = self.merge("".join([encoder[b] for b in word.encode("utf-8")]))
            if len(self._cache) >= CACHE_SIZE:
                self._cache.clear()
            self._cache[word] = tokens
        return tokens

    def _plain(self, text: str, tokens: List[str]) -> None:
        for word in self.pattern.findall(text):
            tokens.extend(self._piece_tokens(word))

    def tokenize(self, text: str) -> List[str]:
        tokens: List[str] = []
        if self.special_pattern is None:
            self._plain(text, tokens)
            return tokens
        start = 0
        for match in self.special_pattern.finditer(text):
            self._plain(text[start:match.start()], tokens)
            tokens.append(match.group())
            start = match.end()
        self._plain(text[start:], tokens)
        return tokens

    def decode(self, tokens: Iterable[str]) -> str:
        return bpe_detokenize(list(tokens))


def load_bpe(vocab: Vocab, merges_path: Optional[str], option: str = "--merges_path") -> ByteLevelBPE:
    """The BPE of ``vocab`` (read from a ``vocab.json``) and ``merges_path``."""
    if not merges_path:
        raise UserInputError(f"--tokenizer bpe needs {option} (the merges.txt beside vocab.json)")
    if vocab.path is not None and not vocab.path.endswith(".json"):
        raise UserInputError("--tokenizer bpe reads a vocab.json (token -> id), not a vocabulary with one token "
                             "a line", path=vocab.path)
    return ByteLevelBPE(vocab, read_merges(merges_path))


@functools.lru_cache(maxsize=None)
def _byte_decoder() -> Dict[str, int]:
    return {c: b for b, c in byte_to_unicode().items()}


def bpe_detokenize(tokens: Sequence[str]) -> str:
    """Byte-level BPE tokens -> text: byte characters -> bytes -> UTF-8 (an invalid sequence, e.g. a
    character cut in the middle, becomes U+FFFD, as Hugging Face's ``errors="replace"``); special
    tokens are ASCII and come back as written. Needs no vocabulary: the byte mapping is fixed."""
    decoder = _byte_decoder()
    data = bytearray()
    for char in "".join(tokens):
        byte = decoder.get(char)
        data.extend(char.encode("utf-8") if byte is None else bytes([byte]))
    return data.decode("utf-8", errors="replace")
