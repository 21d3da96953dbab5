"""Tokenizers: text -> tokens -> ids, chosen by ``--tokenizer`` from the ``TOKENIZERS`` registry.

- ``bert``: BERT basic tokenization + WordPiece, id for id what ``transformers.BertTokenizer``
  produces on the same vocabulary (see :mod:`uer.tokenizers.basic`); with
  ``--spm_model_path`` it is the SentencePiece segmentation instead.
- ``char``: every character of the stripped text, interior spaces included (they map to the
  vocabulary's ``" "`` token, i.e. a blank line of the vocabulary file, else to ``[UNK]``).
- ``space``: ``text.strip().split(" ")``; consecutive spaces give empty tokens, which map to ``[UNK]``.
- ``bpe``: byte-level BPE (GPT-2, RoBERTa) from ``--vocab_path vocab.json --merges_path merges.txt``,
  id for id what ``transformers.GPT2Tokenizer`` / ``RobertaTokenizer`` produce (:mod:`uer.tokenizers.bpe`).

``char`` and ``space`` never lower-case. No tokenizer adds ``[CLS]``/``[SEP]``: callers do.

The package is the tokenizer stack, above ``uer.utils`` and below everything that reads text:
``vocab`` (token <-> id), ``basic``/``wordpiece``/``spm``/``bpe`` (the pieces the tokenizers here are
made of), ``vocab_builder`` (corpus -> vocabulary file) and ``vocab_adapter`` (a checkpoint moved
to a new vocabulary). It imports only ``uer.utils`` and ``uer.registry`` (``vocab_adapter`` needs
nothing of the model either: it works on a plain state dict).
"""
import logging
from typing import Any, List, Sequence

from uer.registry import Registry
from uer.tokenizers.basic import BasicTokenizer
from uer.tokenizers.bpe import bpe_detokenize, load_bpe
from uer.tokenizers.spm import encode_pieces
from uer.tokenizers.vocab import Vocab, load_vocab_from_args
from uer.tokenizers.wordpiece import WordPiece
from uer.utils.constants import SPECIAL_TOKENS
from uer.utils.errors import UserInputError

logger = logging.getLogger(__name__)

TOKENIZERS = Registry("tokenizer")


class Tokenizer:
    """Base class: holds the vocabulary and converts between tokens and ids."""

    name = "base"

    def __init__(self, vocab: Vocab, do_lower_case: bool = True):
        # Every model and dataset needs the special tokens: fail now, naming the vocabulary file.
        vocab.require_special_tokens(f"the '{self.name}' tokenizer")
        self.vocab = vocab
        self.do_lower_case = do_lower_case
        self.sp_model = vocab.sp_model
        self._unk_id = vocab.get(vocab.unk_token)

    @classmethod
    def from_args(cls, args: Any, prefix: str = "") -> "Tokenizer":
        """Build from ``--{prefix}vocab_path``/``--{prefix}spm_model_path``/``--{prefix}do_lower_case``."""
        vocab = load_vocab_from_args(args, prefix)
        do_lower_case = getattr(args, prefix + "do_lower_case", None)
        return cls(vocab, do_lower_case=True if do_lower_case is None else bool(do_lower_case))

    def tokenize(self, text: str) -> List[str]:
        raise NotImplementedError

    def convert_tokens_to_ids(self, tokens: Sequence[str]) -> List[int]:
        """Ids of ``tokens``; a token absent from the vocabulary gets the ``[UNK]`` id."""
        get, unk_id = self.vocab.w2i.get, self._unk_id
        return [get(token, unk_id) for token in tokens]

    def convert_ids_to_tokens(self, ids: Sequence[int]) -> List[str]:
        """Tokens of ``ids``; an id outside the vocabulary gives the unknown token."""
        i2w, size, unk = self.vocab.i2w, len(self.vocab), self.vocab.unk_token
        return [i2w[i] if 0 <= i < size else unk for i in ids]

    def encode(self, text: str) -> List[int]:
        """``convert_tokens_to_ids(tokenize(text))``, without ``[CLS]``/``[SEP]``."""
        return self.convert_tokens_to_ids(self.tokenize(text))


@TOKENIZERS.register("bert")
class BertTokenizer(Tokenizer):
    """Google BERT's tokenizer (Devlin et al., 2019): basic tokenization, then WordPiece.

    ``do_lower_case`` lower-cases and strips accents (Google's uncased models); ``False`` keeps
    both. Special tokens written literally in the text (``[CLS]``, ``[SEP]``, ``[MASK]``, ``[PAD]``,
    ``[UNK]``; case sensitive) stay single tokens, as in Hugging Face. With a SentencePiece
    vocabulary the text goes through SentencePiece as is (no lower-casing: the model normalizes).
    """

    name = "bert"

    def __init__(self, vocab: Vocab, do_lower_case: bool = True, max_input_chars_per_word: int = 100):
        super().__init__(vocab, do_lower_case)
        if self.sp_model is None:
            self.basic_tokenizer = BasicTokenizer(do_lower_case, never_split=SPECIAL_TOKENS)
            self.wordpiece = WordPiece(vocab, max_input_chars_per_word)

    def tokenize(self, text: str) -> List[str]:
        if self.sp_model is not None:
            return encode_pieces(self.sp_model, text)
        split = self.wordpiece.split
        tokens: List[str] = []
        for word in self.basic_tokenizer.words(text):
            tokens.extend(split(word)[0])
        return tokens

    def encode(self, text: str) -> List[int]:
        if self.sp_model is not None:
            return self.convert_tokens_to_ids(encode_pieces(self.sp_model, text))
        split = self.wordpiece.split
        ids: List[int] = []
        for word in self.basic_tokenizer.words(text):
            ids.extend(split(word)[1])
        return ids


@TOKENIZERS.register("char")
class CharTokenizer(Tokenizer):
    """One token per character of ``text.strip()`` (UER-py's behaviour: interior white space is
    kept as tokens, which map to the vocabulary's ``" "`` token or ``[UNK]``). Never lower-cases."""

    name = "char"

    def tokenize(self, text: str) -> List[str]:
        return list(text.strip())


@TOKENIZERS.register("space")
class SpaceTokenizer(Tokenizer):
    """Tokens separated by single spaces: ``text.strip().split(" ")`` (UER-py's behaviour: two
    consecutive spaces give an empty token, mapped to ``[UNK]``). Never lower-cases."""

    name = "space"

    def tokenize(self, text: str) -> List[str]:
        return text.strip().split(" ")


@TOKENIZERS.register("bpe")
class BpeTokenizer(Tokenizer):
    """Byte-level BPE (GPT-2, RoBERTa): ``--vocab_path vocab.json --merges_path merges.txt``. Case and
    spaces are kept (a space belongs to the next word: ``Ġworld``); ``detokenize`` restores the text."""

    name = "bpe"

    def __init__(self, vocab: Vocab, merges_path: str, option: str = "--merges_path"):
        super().__init__(vocab, do_lower_case=False)
        self.bpe = load_bpe(vocab, merges_path, option)

    @classmethod
    def from_args(cls, args: Any, prefix: str = "") -> "BpeTokenizer":
        return cls(load_vocab_from_args(args, prefix), getattr(args, prefix + "merges_path", None),
                   f"--{prefix}merges_path")

    def tokenize(self, text: str) -> List[str]:
        return self.bpe.tokenize(text)

    def detokenize(self, tokens: Sequence[str]) -> str:
        return bpe_detokenize(tokens)


def build_tokenizer(args: Any, prefix: str = "") -> Tokenizer:
    """The tokenizer named by ``args.{prefix}tokenizer`` (default ``bert``) on the vocabulary of
    ``--{prefix}spm_model_path`` or ``--{prefix}vocab_path``; ``prefix="tgt_"`` builds a seq2seq
    target-side tokenizer."""
    name = getattr(args, prefix + "tokenizer", None) or "bert"
    if name not in TOKENIZERS:
        raise UserInputError(f"unknown --{prefix}tokenizer '{name}'; choose one of: {', '.join(TOKENIZERS.names())}")
    tokenizer = TOKENIZERS.get(name).from_args(args, prefix)
    logger.info("%s tokenizer, %d tokens in the vocabulary", name, len(tokenizer.vocab))
    return tokenizer
