"""What every data processor shares: settings, tokenization (with word flags), batch helpers.

A data processor owns both ends of one target's data: ``process`` turns corpus lines into
stored instances (preprocess.py) and ``collate`` turns stored instances into a padded batch
(the pre-training loader). Keeping both in one class means the two cannot drift apart.
"""
import logging
import random
from dataclasses import dataclass
from typing import Any, ClassVar, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from uer.data.corpus import Line
from uer.data.format import DatasetFile, token_dtype
from uer.data.masking import Masker
from uer.data.writer import Field, ShardWriter
from uer.utils.constants import CLS_TOKEN, PAD_ID, SEP_TOKEN
from uer.utils.errors import UserInputError

logger = logging.getLogger(__name__)

Batch = Dict[str, np.ndarray]


@dataclass(frozen=True)
class Settings:
    """The preprocessing options a processor reads (resolved once from the command line)."""

    corpus_path: str = ""
    seq_length: int = 128
    tgt_seq_length: int = 128
    dup_factor: int = 5
    short_seq_prob: float = 0.1
    full_sentences: bool = False
    docs_buffer_size: int = 100000
    seed: int = 7
    dynamic_masking: bool = False
    span_masking: bool = False
    span_geo_prob: float = 0.2
    span_max_length: int = 10
    whole_word_masking: bool = False

    @classmethod
    def from_args(cls, args: Any) -> "Settings":
        names = cls.__dataclass_fields__
        values = {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}
        return cls(**values)


def rng_key(seed: int, *parts: int) -> int:
    """An integer seed for ``random.Random.seed`` unique to ``(seed, *parts)`` (parts < 2**40)."""
    key = seed & 0xFFFFFFFF
    for part in parts:
        key = (key << 40) | part
    return key


def keyed_uniforms(seed: int, stream: int, keys: Sequence[int], count: int) -> np.ndarray:
    """``[len(keys) x count]`` uniforms in [0, 1), a pure function of ``(seed, stream, key, column)``.

    A vectorized splitmix64 hash: seeding a ``random.Random`` per document costs ~5 us, this
    costs a few nanoseconds per number.
    """
    def mix(z: np.ndarray) -> np.ndarray:
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))

    with np.errstate(over="ignore"):
        base = mix(np.uint64(seed & 0xFFFFFFFF) ^ (np.uint64(stream) << np.uint64(32)))
        z = mix(np.asarray(keys, dtype=np.uint64)[:, None] ^ base)
        z = mix(z + np.arange(count, dtype=np.uint64)[None, :] * np.uint64(0xD1B54A32D192ED03))
    return (z >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


class KeyedRandom:
    """``random()`` from a precomputed row of keyed uniforms, then from a ``random.Random`` seeded
    with the same key if a document needs more numbers than the row holds."""

    __slots__ = ("_values", "_position", "_key", "_fallback")

    def reset(self, values: List[float], key: int) -> None:
        self._values, self._position, self._key, self._fallback = values, 0, key, None

    def random(self) -> float:
        if self._position < len(self._values):
            self._position += 1
            return self._values[self._position - 1]
        if self._fallback is None:
            self._fallback = random.Random(self._key)
        return self._fallback.random()


def pair_lengths(la: int, lb: int, max_tokens: int) -> Tuple[int, int]:
    """Lengths after shortening a pair to ``max_tokens``: the longer side first, then both in
    turn (``b`` first), as BERT's ``truncate_seq_pair`` does one token at a time."""
    excess = la + lb - max_tokens
    if excess <= 0:
        return la, lb
    from_longer = min(excess, abs(la - lb))
    if la > lb:
        la -= from_longer
    else:
        lb -= from_longer
    rest = excess - from_longer
    return la - rest // 2, lb - (rest + 1) // 2


def randint(rng: Any, low: int, high: int) -> int:
    """Uniform integer in ``[low, high]``; ``random()`` based, several times faster than ``randint``."""
    return low + int(rng.random() * (high - low + 1))


class DataProcessor:
    """Base class; subclasses set the class attributes and implement ``process``/``collate``."""

    name: ClassVar[str] = ""
    corpus: ClassVar[str] = "lines"  # "lines", "documents" (blank-line separated) or "tab"
    masked: ClassVar[bool] = False  # instances get MLM masking (static or dynamic)
    uses_dup_factor: ClassVar[bool] = False  # random instances: building them again differs
    buffered: ClassVar[bool] = False  # reads a buffer of documents before building instances
    min_seq_length: ClassVar[int] = 3
    progress: Any = None  # set by the pipeline: ``progress.commit(fraction)`` after buffered work

    def __init__(self, settings: Settings, tokenizer: Any, tgt_tokenizer: Any = None):
        self.settings = settings
        self.tokenizer = tokenizer
        self.tgt_tokenizer = tgt_tokenizer if tgt_tokenizer is not None else tokenizer
        vocab = tokenizer.vocab
        self.vocab_size = len(vocab)
        self.pad_id = PAD_ID
        self.word_flags = self.masked and settings.whole_word_masking
        # With whole-word masking, ids travel through instance building encoded as
        # id * 2 + word_start, so the flags follow every cut and concatenation for free;
        # the shard writer decodes them.
        scale, flag = (2, 1) if self.word_flags else (1, 0)
        self.cls_id = vocab.get(CLS_TOKEN) * scale + flag
        self.sep_id = vocab.get(SEP_TOKEN) * scale + flag
        self._jieba = _import_jieba() if self.word_flags else None
        if settings.seq_length < self.min_seq_length:
            raise UserInputError(f"--seq_length {settings.seq_length} is too short for --target {self.name} "
                                 f"(at least {self.min_seq_length})")

    @classmethod
    def from_args(cls, args: Any, tokenizer: Any, tgt_tokenizer: Any = None) -> "DataProcessor":
        return cls(Settings.from_args(args), tokenizer, tgt_tokenizer)

    # ---- preprocessing -------------------------------------------------------------------
    @property
    def dup_factor(self) -> int:
        """Passes over each buffer: 1 when repeating would give the same instances."""
        if not self.uses_dup_factor or (self.masked and self.settings.dynamic_masking):
            return 1
        return max(1, self.settings.dup_factor)

    def fields(self) -> List[Field]:
        return [Field("src", "ragged", token_dtype(self.vocab_size))]

    def shard_boundary(self) -> Tuple[str, int]:
        """``("line" | "document", lines_multiple)``: where the corpus may be cut between workers."""
        return ("document" if self.corpus == "documents" else "line"), 0

    def check_line(self, line_no: int, text: str) -> None:
        """Raise UserInputError if a corpus line does not fit the target (used up front and while reading)."""

    def check_corpus(self, path: str, sample: Sequence[Line]) -> None:
        """Look at the corpus (its first ~1 MB in ``sample``) before any work starts."""
        for line_no, text in sample:
            self.check_line(line_no, text)
        if self.corpus == "lines":
            texts = [text for _, text in sample if text.strip()]
            if texts and sum("\t" in text for text in texts) > len(texts) // 2:
                logger.warning("most lines of %s contain a tab, which --target %s reads as part of the text "
                               "(cls, seq2seq and prefixlm read tab-separated columns)", path, self.name)

    def header(self) -> Dict[str, Any]:
        """Target-specific header entries (merged into the dataset header)."""
        return {}

    def process(self, lines: Iterator[Line], writer: ShardWriter, shard_index: int) -> Dict[str, int]:
        """Build the instances of one shard into ``writer``; return counters for the header/log."""
        raise NotImplementedError

    def encode(self, text: str) -> List[int]:
        """Token ids of ``text`` (encoded with word-start flags under whole-word masking)."""
        if self._jieba is None:
            return self.tokenizer.encode(text)
        ids: List[int] = []
        for word in self._jieba.lcut(text):
            pieces = self.tokenizer.encode(word)
            if pieces:
                ids.append(pieces[0] * 2 + 1)
                ids.extend(piece * 2 for piece in pieces[1:])
        return ids

    def buffer_progress(self, done: int, total: int) -> None:
        """Report that ``done`` of ``total`` passes over the current buffer are written."""
        if self.progress is not None:
            self.progress.commit(done / total)

    def shard_rng(self, shard_index: int, stream: int) -> random.Random:
        """A worker-local random stream, distinct for every shard and purpose."""
        return random.Random(rng_key(self.settings.seed, 1 + shard_index, stream))

    def error(self, message: str, line_no: int) -> UserInputError:
        return UserInputError(message, path=self.settings.corpus_path, line=line_no)

    # ---- loading -------------------------------------------------------------------------
    @classmethod
    def collate(cls, data: DatasetFile, indices: Sequence[int], masker: Optional[Masker],
                rng: np.random.Generator) -> Batch:
        """The batch of instances ``indices``, padded to its longest instance (numpy int64)."""
        raise NotImplementedError


def _import_jieba() -> Any:
    try:
        import jieba
    except ImportError:
        raise UserInputError("--whole_word_masking segments Chinese words with jieba, which is not "
                             "installed: pip install jieba (or pip install uer[wwm])") from None
    jieba.setLogLevel(logging.WARNING)
    return jieba
