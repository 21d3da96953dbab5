"""BERT's basic tokenization (cleaning, CJK splitting, lower-casing, punctuation splitting), fast.

It reproduces the ``BertNormalizer`` + ``BertPreTokenizer`` of Hugging Face ``tokenizers``, which
is what ``transformers.BertTokenizer`` runs (``BertTokenizerFast`` in transformers 4.x):

1. drop NUL, U+FFFD and "other" characters (categories C*, except tab/CR/LF), map white space
   (the Unicode White_Space property) to " ";
2. surround CJK ideographs with spaces;
3. if ``do_lower_case``: NFD-decompose, drop non-spacing marks (Mn), lower-case each character
   (as Google BERT; with ``do_lower_case=False`` case and accents are kept);
4. split on white space and make every punctuation character (Unicode P* or ASCII
   non-alphanumeric) a word of its own.

Every step above maps one input character to a string independently of its neighbours, so the
whole pipeline is one ``str.translate`` through a table filled lazily per distinct character,
followed by ``str.split()``: no Python call per character of the corpus.

Where the pure-Python BERT tokenizer of transformers (``BertTokenizer`` in 4.x,
``BertTokenizerLegacy`` in 5.x) differs from the Rust one, we follow Rust: Python NFC-normalizes
cased text, lower-cases whole words (a final sigma becomes "ς"), drops unassigned code points and
treats CJK extension E (U+2B820-U+2B91F) as CJK. We read character categories from Python's
``unicodedata`` (Unicode 14 in Python 3.11) while ``tokenizers`` mixes older and newer tables:
a sweep of all code points finds 559 (uncased) / 119 (cased) characters treated differently,
all recent additions (historic scripts, Arabic and Indic marks, U+2E43-U+2E5D punctuation, 7
Latin Extended-D letters); no CJK ideograph, emoji, or common Latin/Greek/Cyrillic letter.
"""
import re
import unicodedata
from typing import Dict, Iterable, List, Optional

# Code point ranges of CJK ideographs, as Hugging Face tokenizers has them (its extension-E range
# starts at U+2B920, not U+2B820 as in Google BERT and the pure-Python tokenizer).
_CJK_RANGES = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B920, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)
_DROPPED_CATEGORIES = frozenset(("Cc", "Cf", "Co", "Cs"))  # unassigned (Cn) characters are kept
# Unicode White_Space characters (what Rust's ``char::is_whitespace`` accepts).
_WHITESPACE = frozenset("\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
                        "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")


def is_cjk(char: str) -> bool:
    """Whether ``char`` is a CJK ideograph that BERT makes a word of its own."""
    cp = ord(char)
    return any(low <= cp <= high for low, high in _CJK_RANGES)


def is_punctuation(char: str) -> bool:
    """BERT's punctuation: any Unicode P* character, and every ASCII non-alphanumeric symbol."""
    cp = ord(char)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def normalize_char(char: str, do_lower_case: bool) -> str:
    """What the BERT normalizer and pre-tokenizer turn one character into (" " separates words)."""
    if char in "\t\n\r":
        return " "
    if char == "\ufffd" or unicodedata.category(char) in _DROPPED_CATEGORIES:
        return ""  # control (NUL, \v, \f, U+0085...), format, private-use and surrogate characters
    if char in _WHITESPACE:
        return " "
    text = char
    if do_lower_case:
        # Character by character, as the Rust normalizer does (no final-sigma context).
        decomposed = unicodedata.normalize("NFD", char)
        text = "".join(c.lower() for c in decomposed if unicodedata.category(c) != "Mn")
    pieces = []
    for c in text:
        if c in _WHITESPACE:
            pieces.append(" ")
        elif is_punctuation(c):
            pieces.append(f" {c} ")
        else:
            pieces.append(c)
    out = "".join(pieces)
    return f" {out} " if is_cjk(char) else out


class _CharTable(dict):
    """``ord(char) -> replacement`` for ``str.translate``, computed on first sight of a character."""

    def __init__(self, do_lower_case: bool):
        super().__init__()
        self.do_lower_case = do_lower_case

    def __missing__(self, cp: int) -> str:
        value = normalize_char(chr(cp), self.do_lower_case)
        self[cp] = value
        return value


# One table per casing mode, shared by every tokenizer of the process (it only grows with the
# number of distinct characters seen, at most the ~150k assigned code points).
_TABLES: Dict[bool, _CharTable] = {True: _CharTable(True), False: _CharTable(False)}


class BasicTokenizer:
    """Splits text into normalized words; ``never_split`` strings found verbatim are kept whole.

    As in Hugging Face, special tokens such as ``[CLS]`` written literally in the text (case
    sensitive, anywhere, even inside a word) are cut out before normalization.
    """

    def __init__(self, do_lower_case: bool = True, never_split: Optional[Iterable[str]] = None):
        self.do_lower_case = do_lower_case
        self._table = _TABLES[bool(do_lower_case)]
        specials = sorted(set(never_split or ()), key=len, reverse=True)
        self._special_re = re.compile("(" + "|".join(map(re.escape, specials)) + ")") if specials else None
        # A cheap pre-check: every special token starts with one of these characters.
        self._special_starts = frozenset(s[0] for s in specials)

    def __getstate__(self) -> dict:
        # Worker processes re-attach to their own shared table instead of receiving a copy.
        state = self.__dict__.copy()
        del state["_table"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._table = _TABLES[bool(self.do_lower_case)]

    def words(self, text: str) -> List[str]:
        """Normalized words of ``text`` (special tokens included verbatim)."""
        table = self._table
        if self._special_re is not None and any(c in text for c in self._special_starts):
            parts = self._special_re.split(text)
            words: List[str] = []
            for i, part in enumerate(parts):
                if i % 2:
                    words.append(part)
                elif part:
                    words.extend(part.translate(table).split())
            return words
        return text.translate(table).split()
