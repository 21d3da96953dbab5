"""The classification family's reader and evaluation, shared by run_classifier, _cv, _mt, dbqa
and their inference scripts.

File format: tab-separated with a header; ``text_a``, optional ``text_b`` (then every row is a
pair), ``label`` (an integer 0..n-1; not needed to predict), optional ``logits`` (teacher logits
for ``--soft_targets``).
"""
import logging
from argparse import Namespace
from dataclasses import dataclass
from typing import List, Optional, Sequence

import numpy as np
import torch.nn as nn

from uer.finetune.inputs import PairEncoder, TaskDataset
from uer.finetune.metrics import accuracy, classification_report, confusion_matrix, macro_f1
from uer.finetune.predict import predict, softmax
from uer.finetune.tsv import parse_floats, parse_label, read_tsv
from uer.training.runtime import DistContext
from uer.utils.errors import UserInputError

logger = logging.getLogger(__name__)


def read_classification(path: str, encoder: PairEncoder, labels_num: Optional[int] = None,
                        with_labels: bool = True, soft_targets: bool = False,
                        extra_columns: Sequence[str] = ()) -> TaskDataset:
    """Tokenize a classification file once into a :class:`TaskDataset` (``src``, ``seg``, ``tgt``
    and, with ``soft_targets``, ``soft_tgt``).

    Without ``labels_num`` (a training file) the number of classes is the number of distinct
    labels, and every label must be below it. ``dataset.meta`` holds ``labels_num``, ``pair`` and
    the raw values of ``extra_columns`` (e.g. ``qid``).
    """
    required = (["label"] if with_labels else []) + ["text_a"] + list(extra_columns)
    if soft_targets:
        required.append("logits")
    columns, rows = read_tsv(path, required, optional=("text_b",))
    pair = "text_b" in columns
    src, seg, labels, logits, label_lines = [], [], [], [], []
    extras = {name: [] for name in extra_columns}
    encoder.truncated = 0
    for row in rows:
        if with_labels:
            labels.append(parse_label(row, "label", labels_num))
            label_lines.append(row.line)
        ids, segments = encoder(row["text_a"], row["text_b"] if pair else None)
        src.append(ids)
        seg.append(segments)
        if soft_targets:
            logits.append(parse_floats(row, "logits", labels_num))
        for name in extra_columns:
            extras[name].append(row[name])
    if not src:
        raise UserInputError("no examples: the file has a header but no data lines", path=path)
    if with_labels and labels_num is None:
        labels_num = len(set(labels))
        for label, line in zip(labels, label_lines):
            if label >= labels_num:
                raise UserInputError(f"label {label} is outside 0..{labels_num - 1}: the file has {labels_num} "
                                     f"distinct labels, which must be numbered 0..{labels_num - 1}",
                                     path=path, line=line)
    if soft_targets:
        for values, line in zip(logits, label_lines):
            if len(values) != labels_num:
                raise UserInputError(f"expected {labels_num} teacher logits (one per class), found {len(values)}",
                                     path=path, line=line)
    fixed = {}
    if with_labels:
        fixed["tgt"] = labels
    if soft_targets:
        fixed["soft_tgt"] = logits
    dataset = TaskDataset({"src": src, "seg": seg}, fixed, path=path)
    dataset.meta.update(labels_num=labels_num, pair=pair, **extras)
    if encoder.truncated:
        logger.info("%s: %d of %d examples truncated to --seq_length %d", path, encoder.truncated, len(src),
                    encoder.seq_length)
    return dataset


@dataclass
class ClassificationResult:
    accuracy: float
    correct: int
    total: int
    confusion: np.ndarray   # [labels_num x labels_num], rows = predictions
    logits: np.ndarray      # [num_examples x labels_num], file order

    @property
    def macro_f1(self) -> float:
        return macro_f1(self.confusion)

    @property
    def probabilities(self) -> np.ndarray:
        return softmax(self.logits)


def evaluate_classifier(model: nn.Module, data: TaskDataset, args: Namespace, ctx: DistContext,
                        report: bool = False, batch_size: Optional[int] = None) -> ClassificationResult:
    """Accuracy of ``model`` on a labelled dataset; logs ``Acc. (Correct/Total): ...`` and, with
    ``report``, the confusion matrix and per-label precision/recall/F1."""
    logits = predict(model, data, batch_size or args.batch_size, args, ctx)["logits"]
    gold = data.fixed["tgt"]
    labels_num = logits.shape[1]
    pred = logits.argmax(axis=1)
    acc, correct, total = accuracy(pred, gold)
    result = ClassificationResult(acc, correct, total, confusion_matrix(pred, gold, labels_num), logits)
    logger.info("Acc. (Correct/Total): %.4f (%d/%d)", acc, correct, total)
    warn_if_collapsed(pred, gold, labels_num)
    if report:
        for line in classification_report(result.confusion):
            logger.info("%s", line)
    return result


def label_distribution(labels: np.ndarray, labels_num: int) -> str:
    """``0: 43.1%, 1: 56.9%`` (labels that occur)."""
    counts = np.bincount(labels, minlength=labels_num)
    return ", ".join(f"{label}: {100 * n / max(len(labels), 1):.1f}%" for label, n in enumerate(counts) if n)


def warn_if_collapsed(pred: np.ndarray, gold: np.ndarray, labels_num: int) -> bool:
    """One warning line when every prediction is one label while the gold labels are several: the
    model has learnt nothing but a prior, which accuracy alone does not show."""
    if len(pred) < 2 or len(np.unique(pred)) > 1 or len(np.unique(gold)) < 2:
        return False
    logger.warning("every one of the %d predictions is label %d (gold labels %s): the model has collapsed to "
                   "one class; a lower --learning_rate, more --epochs_num or --batch_order random may help",
                   len(pred), int(pred[0]), label_distribution(gold, labels_num))
    return True


def format_floats(values: Sequence[float]) -> str:
    return " ".join(f"{v:.6g}" for v in values)


def prediction_lines(logits: np.ndarray, output_logits: bool, output_prob: bool) -> List[str]:
    """The inference TSV: header ``label`` [``logits``] [``prob``], one row per example."""
    header = ["label"] + (["logits"] if output_logits else []) + (["prob"] if output_prob else [])
    probs = softmax(logits) if output_prob else None
    lines = ["\t".join(header)]
    for i, row in enumerate(logits):
        fields = [str(int(row.argmax()))]
        if output_logits:
            fields.append(format_floats(row))
        if output_prob:
            fields.append(format_floats(probs[i]))
        lines.append("\t".join(fields))
    return lines
