"""Shared fixtures of the fine-tuning tests: a tiny vocabulary and config, easily learnable
synthetic task files, and the top-level scripts loaded as modules."""
import json
import logging
import os
import random
from typing import Dict, List

from tests.conftest import REPO, load_script  # noqa: F401 (re-exported for the tests)
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
LETTERS = "abcdefghijklmnopqrstuvwxyz"
TINY = {"emb_size": 32, "hidden_size": 32, "feedforward_size": 64, "heads_num": 4, "layers_num": 2,
        "dropout": 0.0, "max_seq_length": 64, "hidden_act": "gelu", "layernorm_eps": 1e-12}
POSITIVE, NEGATIVE = LETTERS[:13], LETTERS[13:]
# Entities: a begin letter then inside letters, so that a tag follows from its own token.
ENTITIES = {"PER": ("ab", "c"), "LOC": ("xy", "z")}
OTHER = LETTERS[3:23]
LABEL2ID = {"O": 0, "B-PER": 1, "I-PER": 2, "B-LOC": 3, "I-LOC": 4}


def write_common(directory: str) -> Dict[str, str]:
    """vocab.txt (special tokens + a..z) and tiny_config.json; returns their paths."""
    os.makedirs(directory, exist_ok=True)
    paths = {"vocab": os.path.join(directory, "vocab.txt"), "config": os.path.join(directory, "tiny_config.json")}
    with open(paths["vocab"], "w", encoding="utf-8") as handle:
        handle.write("\n".join(SPECIALS + list(LETTERS)) + "\n")
    with open(paths["config"], "w", encoding="utf-8") as handle:
        json.dump(TINY, handle)
    return paths


def sentence(rng: random.Random, label: int) -> str:
    """Letters mostly from the first half of the alphabet for label 1, the second half for 0."""
    pool = POSITIVE if label else NEGATIVE
    return "".join(rng.choice(pool) if rng.random() < 0.8 else rng.choice(LETTERS) for _ in range(rng.randint(3, 20)))


def write_classification(path: str, n: int, seed: int, pair: bool = False, with_labels: bool = True,
                         logits: bool = False) -> List[int]:
    """label<TAB>text_a[<TAB>text_b][<TAB>logits]; a pair's label is the class of text_b (text_a is noise)."""
    rng = random.Random(seed)
    labels = []
    header = (["label"] if with_labels else []) + ["text_a"] + (["text_b"] if pair else []) + (["logits"] if logits else [])
    lines = ["\t".join(header)]
    for _ in range(n):
        label = rng.randint(0, 1)
        if pair:
            fields = [sentence(rng, rng.randint(0, 1)), sentence(rng, label)]
        else:
            fields = [sentence(rng, label)]
        if logits:
            fields.append(f"{2.0 * (1 - label) - 1:.1f} {2.0 * label - 1:.1f}")
        lines.append("\t".join(([str(label)] if with_labels else []) + fields))
        labels.append(label)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return labels


def tagged_sentence(rng: random.Random):
    tokens, tags = [], []
    while len(tokens) < rng.randint(6, 24):
        for _ in range(rng.randint(1, 3)):
            tokens.append(rng.choice(OTHER))
            tags.append("O")
        kind = rng.choice(sorted(ENTITIES))
        begin, inside = ENTITIES[kind]
        for i in range(rng.randint(1, 3)):
            tokens.append(rng.choice(begin if i == 0 else inside))
            tags.append(("B-" if i == 0 else "I-") + kind)
    return tokens, tags


def write_ner(path: str, n: int, seed: int, with_labels: bool = True) -> List[List[str]]:
    """text_a<TAB>label: space-separated letters and BIO tags (a/b then c = person, x/y then z = place)."""
    rng = random.Random(seed)
    gold, lines = [], ["text_a\tlabel" if with_labels else "text_a"]
    for _ in range(n):
        tokens, tags = tagged_sentence(rng)
        gold.append(tags)
        lines.append(" ".join(tokens) + ("\t" + " ".join(tags) if with_labels else ""))
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return gold




def run_script(relative_path: str, argv: List[str]) -> None:
    """Run ``main(argv)`` in this process; the root logging handlers it installs are removed after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        load_script(relative_path).main([str(a) for a in argv])
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
