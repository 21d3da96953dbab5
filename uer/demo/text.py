"""Text helpers of the demo data: cleaning, sentence splitting, BERT documents, seeded splits."""
import random
import re
from typing import Dict, List, Sequence, Tuple, TypeVar

T = TypeVar("T")

SPLIT_NAMES = ("train", "dev", "test")

# Control characters become spaces; invisible format characters (zero-width space, BOM, soft
# hyphen, bidi marks) are removed: they would otherwise become vocabulary entries of their own.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_FORMAT = re.compile(r"[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
_SENTENCE = re.compile(r".+?(?:[。！？!?；;]+|…+|\.{3,})[”’\"'」』）)》]*|.+$")
_PUNCT_ONLY = re.compile(r"^[\W_]+$")
_CLAUSE_ENDS = "，,、：:"


def clean_text(text: str) -> str:
    """One line of clean text: no tabs/newlines/control characters, white space runs -> one space."""
    text = _FORMAT.sub("", _CONTROL.sub(" ", text))
    return " ".join(text.split())


def split_sentences(text: str) -> List[str]:
    """Split at sentence-final punctuation (kept, with closing quotes); punctuation-only pieces
    such as a leading "……" are glued to a neighbour."""
    pieces = [piece.strip() for piece in _SENTENCE.findall(text)]
    sentences: List[str] = []
    pending = ""
    for piece in pieces:
        if not piece:
            continue
        if _PUNCT_ONLY.match(piece):
            if sentences:
                sentences[-1] += piece
            else:
                pending += piece
            continue
        sentences.append(pending + piece)
        pending = ""
    if pending:
        sentences.append(pending)
    return sentences


def halve(text: str) -> List[str]:
    """Cut a one-sentence text in two, after the clause mark nearest the middle (else the middle)."""
    if len(text) < 2:
        return [text]
    middle = len(text) / 2
    cuts = [i + 1 for i, char in enumerate(text[:-1]) if char in _CLAUSE_ENDS]
    cut = min(cuts, key=lambda i: (abs(i - middle), i)) if cuts else len(text) // 2
    return [part for part in (text[:cut].strip(), text[cut:].strip()) if part]


def bert_document(sentences: Sequence[str]) -> List[str]:
    """The lines of one BERT-format document: its sentences, or two halves of a lone sentence, so
    that next-sentence prediction has a real second segment."""
    sentences = [sentence for sentence in sentences if sentence]
    return list(sentences) if len(sentences) != 1 else halve(sentences[0])


def split_sizes(total: int, dev_ratio: float, test_ratio: float) -> Dict[str, int]:
    """Row counts per split; dev and test are rounded, train takes the rest."""
    dev, test = round(total * dev_ratio), round(total * test_ratio)
    return {"train": total - dev - test, "dev": dev, "test": test}


def seeded_split(items: Sequence[T], seed: int, dev_ratio: float, test_ratio: float) -> Dict[str, List[T]]:
    """Shuffle with ``random.Random(seed)`` and cut into train/dev/test."""
    order = list(items)
    random.Random(seed).shuffle(order)
    sizes = split_sizes(len(order), dev_ratio, test_ratio)
    splits, start = {}, 0
    for name in SPLIT_NAMES:
        splits[name] = order[start:start + sizes[name]]
        start += sizes[name]
    return splits


def weighted_split(groups: Sequence[Tuple[T, int]], seed: int, dev_ratio: float,
                   test_ratio: float) -> Dict[str, List[T]]:
    """Shuffle ``(group, weight)`` pairs and cut them so that each split's total weight (e.g. its
    number of sentences) is close to its ratio, without breaking a group."""
    order = list(groups)
    random.Random(seed).shuffle(order)
    sizes = split_sizes(sum(weight for _, weight in order), dev_ratio, test_ratio)
    bounds = {"train": sizes["train"], "dev": sizes["train"] + sizes["dev"]}
    splits: Dict[str, List[T]] = {name: [] for name in SPLIT_NAMES}
    seen = 0
    for group, weight in order:
        if seen < bounds["train"]:
            name = "train"
        elif seen < bounds["dev"]:
            name = "dev"
        else:
            name = "test"
        splits[name].append(group)
        seen += weight
    return splits
