"""WordPiece: greedy longest-match-first sub-words with ``##`` continuations, cached per word."""
from typing import Dict, Tuple

from uer.tokenizers.vocab import Vocab

Split = Tuple[Tuple[str, ...], Tuple[int, ...]]

CONTINUATION = "##"


class WordPiece:
    """Splits one normalized word into vocabulary pieces (and their ids).

    A word longer than ``max_input_chars_per_word`` characters, or one that cannot be covered by
    pieces, becomes the single unknown token. The default 100 is Hugging Face's (transformers and
    tokenizers); Google BERT and UER-py used 200, which only differs for words of 101-200
    characters without spaces or punctuation.
    Results are cached per distinct word: a corpus repeats its words, so after warm-up a word
    costs one dict lookup. The cache is emptied when it reaches ``cache_size`` entries.
    """

    def __init__(self, vocab: Vocab, max_input_chars_per_word: int = 100, cache_size: int = 1 << 20):
        self.w2i = vocab.w2i
        self.unk_token = vocab.unk_token
        self.unk_id = vocab.get(vocab.unk_token)
        self.max_input_chars_per_word = max_input_chars_per_word
        self.cache_size = cache_size
        self._unknown: Split = ((self.unk_token,), (self.unk_id,))
        self._cache: Dict[str, Split] = {}
        # No piece is longer than these, which bounds the longest-match search.
        self._max_first = max((len(t) for t in self.w2i), default=0)
        self._max_next = max((len(t) - len(CONTINUATION) for t in self.w2i if t.startswith(CONTINUATION)), default=0)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_cache"] = {}  # not worth sending to worker processes
        return state

    def split(self, word: str) -> Split:
        """``(pieces, ids)`` of ``word``."""
        result = self._cache.get(word)
        if result is None:
            result = self._split(word)
            if len(self._cache) >= self.cache_size:
                self._cache.clear()
            self._cache[word] = result
        return result

    def _split(self, word: str) -> Split:
        length = len(word)
        if length > self.max_input_chars_per_word:
            return self._unknown
        w2i = self.w2i
        pieces = []
        start = 0
        while start < length:
            prefix, longest = ("", self._max_first) if start == 0 else (CONTINUATION, self._max_next)
            end = min(length, start + longest)
            while end > start:
                piece = prefix + word[start:end]
                if piece in w2i:
                    break
                end -= 1
            else:
                return self._unknown  # no piece starts here: the whole word is unknown
            pieces.append(piece)
            start = end
        return tuple(pieces), tuple(w2i[piece] for piece in pieces)
