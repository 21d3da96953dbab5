"""Task metrics. None divides by zero: a class never predicted (or absent) scores 0, not a crash."""
from typing import Dict, Iterable, List, Sequence, Set, Tuple

import numpy as np


def safe_div(numerator: float, denominator: float) -> float:
    return float(numerator) / float(denominator) if denominator else 0.0


def confusion_matrix(pred: Sequence[int], gold: Sequence[int], labels_num: int) -> np.ndarray:
    """[labels_num x labels_num] counts, rows = predicted class, columns = gold class (as UER-py)."""
    matrix = np.zeros((labels_num, labels_num), dtype=np.int64)
    np.add.at(matrix, (np.asarray(pred, dtype=np.int64), np.asarray(gold, dtype=np.int64)), 1)
    return matrix


def precision_recall_f1(matrix: np.ndarray) -> List[Tuple[float, float, float]]:
    """Per class (precision, recall, F1) from a confusion matrix with rows = predictions."""
    scores = []
    for i in range(matrix.shape[0]):
        tp = matrix[i, i]
        p, r = safe_div(tp, matrix[i, :].sum()), safe_div(tp, matrix[:, i].sum())
        scores.append((p, r, safe_div(2 * p * r, p + r)))
    return scores


def macro_f1(matrix: np.ndarray) -> float:
    return float(np.mean([f1 for _, _, f1 in precision_recall_f1(matrix)]))


def accuracy(pred: Sequence[int], gold: Sequence[int]) -> Tuple[float, int, int]:
    """(accuracy, correct, total)."""
    pred, gold = np.asarray(pred), np.asarray(gold)
    correct = int((pred == gold).sum())
    return safe_div(correct, len(gold)), correct, len(gold)


def classification_report(matrix: np.ndarray) -> List[str]:
    """The lines UER-py printed after a test run: the matrix, then ``Label i: p, r, f1``."""
    lines = ["Confusion matrix:"]
    lines += ["  " + " ".join(f"{v:6d}" for v in row) for row in matrix]
    lines.append("Report precision, recall, and f1:")
    for i, (p, r, f1) in enumerate(precision_recall_f1(matrix)):
        lines.append(f"Label {i}: {p:.3f}, {r:.3f}, {f1:.3f}")
    return lines


Entity = Tuple[int, int, str]  # (start, end exclusive, type)


def split_tag(tag: str) -> Tuple[str, str]:
    """``"B-PER"`` -> ``("B", "PER")``; ``O``/``[PAD]`` -> ``("O", "")``; a bare ``PER`` -> ``("I", "PER")``."""
    if tag in ("O", "[PAD]", ""):
        return "O", ""
    prefix, dash, label = tag.partition("-")
    if dash and prefix in ("B", "I", "E", "S", "M"):
        return prefix, label
    return "I", tag


def extract_entities(tags: Sequence[str]) -> Set[Entity]:
    """Entity spans of a BIO (or BIOES) tag sequence, conlleval style: an entity starts at ``B-X``
    (or ``S-X``), or at an ``I-X``/``E-X`` that does not continue an entity of type X."""
    entities: Set[Entity] = set()
    start, kind = None, ""
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, label = split_tag(tag)
        continues = start is not None and prefix in ("I", "E", "M") and label == kind
        if start is not None and not continues:
            entities.add((start, i, kind))
            start = None
        if prefix != "O" and not continues:
            start, kind = i, label
        if prefix in ("E", "S") and start is not None:
            entities.add((start, i + 1, kind))
            start = None
    return entities


def entity_prf(gold: Iterable[Sequence[str]], pred: Iterable[Sequence[str]]) -> Dict[str, float]:
    """Entity-level precision, recall and F1: an entity counts when span and type match exactly."""
    correct = gold_total = pred_total = 0
    for gold_tags, pred_tags in zip(gold, pred):
        g, p = extract_entities(gold_tags), extract_entities(pred_tags)
        correct += len(g & p)
        gold_total += len(g)
        pred_total += len(p)
    precision, recall = safe_div(correct, pred_total), safe_div(correct, gold_total)
    return {"precision": precision, "recall": recall, "f1": safe_div(2 * precision * recall, precision + recall),
            "correct": correct, "gold": gold_total, "predicted": pred_total}


def mean_reciprocal_rank(groups: Sequence[Sequence[int]], scores: Sequence[float],
                         labels: Sequence[int]) -> Tuple[float, int]:
    """MRR over questions (``groups`` = example indices of each question); the rank of a question is
    that of its best-scored correct candidate, ties counted against it (a constant scorer cannot
    look perfect). Questions without a correct candidate are skipped; returns (MRR, skipped)."""
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels)
    reciprocal, skipped = [], 0
    for group in groups:
        group = np.asarray(group)
        correct = labels[group] == 1
        if not correct.any():
            skipped += 1
            continue
        best = scores[group][correct].max()
        rank = 1 + int((scores[group][~correct] >= best).sum())
        reciprocal.append(1.0 / rank)
    return (float(np.mean(reciprocal)) if reciprocal else 0.0), skipped
