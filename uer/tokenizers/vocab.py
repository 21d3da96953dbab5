"""Vocabulary: token <-> id, loaded from a one-token-per-line file, a ``vocab.json`` (byte-level BPE)
or a SentencePiece model."""
import json
import logging
import os
import tempfile
from typing import Any, Dict, Iterable, List, Optional, Sequence

from uer.utils.constants import CLS_TOKEN, MASK_TOKEN, PAD_ID, PAD_TOKEN, SEP_TOKEN, SPECIAL_TOKENS, UNK_TOKEN
from uer.utils.errors import UserInputError

logger = logging.getLogger(__name__)

# The roles our special tokens play in GPT-2 / RoBERTa vocabularies (vocab.json): the code looks
# special tokens up by our names, so a vocab.json answers them with its own. RoBERTa reads
# "<s> a </s>"; GPT-2 has only <|endoftext|>, which opens and separates texts and stands for unknowns.
ROBERTA_ROLES = {CLS_TOKEN: "<s>", SEP_TOKEN: "</s>", PAD_TOKEN: "<pad>", UNK_TOKEN: "<unk>", MASK_TOKEN: "<mask>"}
GPT2_ROLES = {CLS_TOKEN: "<|endoftext|>", SEP_TOKEN: "<|endoftext|>", UNK_TOKEN: "<|endoftext|>"}


def bpe_roles(tokens: Dict[str, int]) -> Dict[str, str]:
    """RoBERTa's roles when its <s>, </s> and <pad> are there (GPT-2's merges could form one of them,
    never all three), else GPT-2's when <|endoftext|> is; only tokens the vocabulary has."""
    if all(token in tokens for token in ("<s>", "</s>", "<pad>")):
        roles = ROBERTA_ROLES
    elif "<|endoftext|>" in tokens:
        roles = GPT2_ROLES
    else:
        return {}
    return {ours: theirs for ours, theirs in roles.items() if theirs in tokens and ours not in tokens}


class Vocab:
    """``i2w`` (id -> token) and ``w2i`` (token -> id); unknown tokens map to the ``[UNK]`` id.

    File format (as UER-py and Google BERT): one token per line, the token is the first
    whitespace-separated field, a blank or whitespace-only line is the token ``" "`` (so the
    char tokenizer can map spaces), the id is the line number. When a token appears twice,
    ``w2i`` keeps the last line, as Hugging Face does, and a warning is logged.
    """

    def __init__(self, tokens: Sequence[str] = (), path: Optional[str] = None,
                 unk_token: str = UNK_TOKEN, sp_model: Any = None):
        self.path = path
        self.i2w: List[str] = list(tokens)
        self.w2i: Dict[str, int] = {token: i for i, token in enumerate(self.i2w)}
        duplicates = len(self.i2w) - len(self.w2i)
        if duplicates:
            logger.warning("vocabulary %s has %d duplicate tokens; the last id of each is used",
                           path or "<memory>", duplicates)
        self.unk_token = unk_token
        # SentencePiece processor when the pieces come from --spm_model_path (used by tokenizers).
        self.sp_model = sp_model
        # Our special token -> the vocabulary's own (vocab.json); w2i answers both names.
        self.aliases: Dict[str, str] = {}

    @classmethod
    def from_tokens(cls, tokens: Iterable[str]) -> "Vocab":
        return cls(list(tokens))

    @classmethod
    def load(cls, path: str) -> "Vocab":
        """Read a vocabulary file (``*.json``: a byte-level BPE ``vocab.json``); UTF-8 errors are
        reported with the file and line number."""
        if path.endswith(".json"):
            return cls.from_json(path)
        if not os.path.isfile(path):
            raise UserInputError("vocabulary file not found", path=path)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as error:
            raise UserInputError(f"cannot read the vocabulary: {error.strerror}", path=path) from None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            line = data.count(b"\n", 0, error.start) + 1
            raise UserInputError(f"the vocabulary is not valid UTF-8 ({error.reason} at byte "
                                 f"{error.start})", path=path, line=line) from None
        if text.startswith("\ufeff"):
            text = text[1:]  # a byte-order mark is not part of the first token
        # Universal newlines, as Python's text mode reads it (and so Hugging Face and UER-py).
        lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        if lines and lines[-1] == "":
            lines.pop()  # the newline ending the last line does not start another one
        tokens = [line.split(maxsplit=1)[0] if line.strip() else " " for line in lines]
        if not tokens:
            raise UserInputError("the vocabulary file is empty", path=path)
        vocab = cls(tokens, path=path)
        logger.info("loaded vocabulary %s: %d tokens", path, len(vocab))
        return vocab

    @classmethod
    def from_json(cls, path: str) -> "Vocab":
        """A ``vocab.json`` (GPT-2 / RoBERTa: ``{token: id}``, ids 0..n-1). Our special tokens name
        the vocabulary's own (``bpe_roles``): ``[CLS]`` is ``<s>`` (or ``<|endoftext|>``), ...;
        padding positions still hold id 0, which no model reads (``seg`` 0 masks them)."""
        if not os.path.isfile(path):
            raise UserInputError("vocabulary file not found", path=path)
        try:
            with open(path, encoding="utf-8-sig") as f:
                mapping = json.load(f)
        except json.JSONDecodeError as error:
            raise UserInputError(f"not valid JSON: {error.msg}", path=path, line=error.lineno) from None
        except UnicodeDecodeError as error:
            raise UserInputError(f"the vocabulary is not valid UTF-8 ({error.reason})", path=path) from None
        except OSError as error:
            raise UserInputError(f"cannot read the vocabulary: {error.strerror}", path=path) from None
        if not isinstance(mapping, dict) or not mapping:
            raise UserInputError("expected a JSON object {token: id, ...} (a vocab.json)", path=path)
        ids = list(mapping.values())
        if any(type(i) is not int for i in ids) or sorted(ids) != list(range(len(ids))):
            raise UserInputError(f"the ids of a vocab.json must be the integers 0..{len(mapping) - 1}, each once",
                                 path=path)
        tokens = [""] * len(mapping)
        for token, index in mapping.items():
            tokens[index] = token
        roles = bpe_roles(mapping)
        vocab = cls(tokens, path=path, unk_token=roles.get(UNK_TOKEN, UNK_TOKEN))
        vocab.aliases = roles
        for ours, theirs in roles.items():
            vocab.w2i[ours] = mapping[theirs]
        logger.info("loaded vocab.json %s: %d tokens", path, len(vocab))
        return vocab

    @classmethod
    def from_spm(cls, spm_model_path: str) -> "Vocab":
        """The pieces of a SentencePiece model, in id order; unknown tokens -> ``[UNK]`` if it is a
        piece, else the model's own unknown piece (e.g. ``<unk>``)."""
        from uer.tokenizers.spm import load_spm

        sp_model = load_spm(spm_model_path)
        pieces = [sp_model.id_to_piece(i) for i in range(sp_model.get_piece_size())]
        unk_token = UNK_TOKEN if UNK_TOKEN in pieces else sp_model.id_to_piece(sp_model.unk_id())
        vocab = cls(pieces, path=spm_model_path, unk_token=unk_token, sp_model=sp_model)
        logger.info("loaded SentencePiece vocabulary %s: %d pieces", spm_model_path, len(vocab))
        return vocab

    def __len__(self) -> int:
        return len(self.i2w)

    def __contains__(self, token: str) -> bool:
        return token in self.w2i

    @property
    def unk_id(self) -> Optional[int]:
        return self.w2i.get(self.unk_token)

    def get(self, token: str) -> int:
        """The id of ``token``, or the id of the unknown token."""
        index = self.w2i.get(token)
        if index is not None:
            return index
        if self.unk_id is None:
            raise UserInputError(f"token {token!r} is not in the vocabulary, which has no "
                                 f"{self.unk_token} token to stand for it", path=self.path)
        return self.unk_id

    def require(self, tokens: Iterable[str], purpose: str) -> None:
        """Raise UserInputError naming the vocabulary file when any of ``tokens`` is missing."""
        missing = [token for token in tokens if token not in self.w2i]
        if missing:
            raise UserInputError(
                f"the vocabulary lacks {' '.join(missing)}, needed for {purpose}; a vocabulary must "
                f"contain the special tokens {' '.join(SPECIAL_TOKENS)} ({PAD_TOKEN} on the first line)",
                path=self.path or "<vocabulary built in memory>")

    def require_special_tokens(self, purpose: str = "a model and its tokenizer") -> None:
        """Check that all of SPECIAL_TOKENS are present and that ``[PAD]`` has id ``PAD_ID`` (0),
        the id every model and batch treats as padding."""
        if self.aliases:
            # A vocab.json: sentence inputs need [CLS]/[SEP]; other roles are checked where used.
            self.require([CLS_TOKEN, SEP_TOKEN], purpose)
            return
        self.require(SPECIAL_TOKENS, purpose)
        if self.w2i[PAD_TOKEN] != PAD_ID:
            raise UserInputError(
                f"{PAD_TOKEN} has id {self.w2i[PAD_TOKEN]} but padding is id {PAD_ID}: put "
                f"{PAD_TOKEN} on the first line of the vocabulary", path=self.path or "<vocabulary built in memory>")

    def save(self, path: str) -> None:
        """Write one token per line (``*.json``: ``{token: id}``), atomically (temporary file, then rename)."""
        for i, token in enumerate(self.i2w if not path.endswith(".json") else ()):
            if token != " " and (token == "" or len(token.split()) != 1 or token != token.strip()):
                raise ValueError(f"token {i} ({token!r}) contains white space and cannot be saved "
                                 f"one per line")
        directory = os.path.dirname(os.path.abspath(path))
        fd, tmp_path = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
                if path.endswith(".json"):
                    json.dump({token: i for i, token in enumerate(self.i2w)}, f, ensure_ascii=False)
                else:
                    f.write("".join(token + "\n" for token in self.i2w))
            os.replace(tmp_path, path)
        except BaseException:
            if os.path.exists(tmp_path):
                os.remove(tmp_path)
            raise


def load_vocab_from_args(args: Any, prefix: str = "") -> Vocab:
    """The vocabulary named by ``--{prefix}spm_model_path`` (wins) or ``--{prefix}vocab_path``.

    ``prefix="tgt_"`` reads the target-side options of seq2seq models.
    """
    spm_model_path = getattr(args, prefix + "spm_model_path", None)
    vocab_path = getattr(args, prefix + "vocab_path", None)
    if spm_model_path:
        if vocab_path:
            logger.info("--%sspm_model_path is given: its pieces are the vocabulary, --%svocab_path %s "
                        "is not used", prefix, prefix, vocab_path)
        return Vocab.from_spm(spm_model_path)
    if not vocab_path:
        raise UserInputError(f"give --{prefix}vocab_path (or --{prefix}spm_model_path)")
    return Vocab.load(vocab_path)
