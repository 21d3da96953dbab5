"""Multiple-choice reading comprehension: inputs of several choices per question, accuracy, and the
C3 reader (run_c3, run_c3_infer). The ChID reader is :mod:`uer.finetune.chid`.

An example is stored as ``src``/``seg`` [choices_num x length] (one row per choice, rows of
absent choices all padding: the head ignores them), ``tgt`` the gold choice.

C3 file format: a JSON list of documents ``[[context lines], [{"question", "choice": [...],
"answer", "id"?}, ...], doc_id?]``; the answer is the text of one of the choices.
"""
import argparse
import logging
from argparse import Namespace
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np
import torch.nn as nn

from uer.finetune.inputs import TaskDataset, truncate_pair
from uer.finetune.jsonfile import expect, field, line_of, load_json, strings
from uer.finetune.metrics import accuracy
from uer.finetune.predict import predict
from uer.training.runtime import DistContext
from uer.utils.constants import CLS_TOKEN, SEP_TOKEN
from uer.utils.errors import UserInputError

logger = logging.getLogger(__name__)


def choice_opts(parser: argparse.ArgumentParser, default: int) -> None:
    group = parser.add_argument_group("multiple choice")
    group.add_argument("--max_choices_num", type=int, default=default,
                       help="Most choices (candidates) a question may have; fewer are fine.")


def stack_choices(rows: Sequence[Tuple[List[int], List[int]]], choices_num: int) -> Tuple[np.ndarray, np.ndarray]:
    """``(ids, segments)`` of each choice -> ``src``, ``seg`` [choices_num x longest], absent rows 0."""
    width = max(len(ids) for ids, _ in rows)
    src = np.zeros((choices_num, width), dtype=np.int32)
    seg = np.zeros((choices_num, width), dtype=np.int8)
    for c, (ids, segments) in enumerate(rows):
        src[c, :len(ids)] = ids
        seg[c, :len(segments)] = segments
    return src, seg


def check_choices(count: int, max_choices: int, what: str, path: str, line: Optional[int]) -> None:
    if count == 0:
        raise UserInputError(f"{what} has no choices", path=path, line=line)
    if count > max_choices:
        raise UserInputError(f"{what} has {count} choices, more than --max_choices_num {max_choices}",
                             path=path, line=line)


@dataclass
class ChoiceResult:
    accuracy: float
    correct: int
    total: int
    logits: np.ndarray     # [num_examples x choices_num], file order


def predict_choices(model: nn.Module, data: TaskDataset, args: Namespace, ctx: DistContext,
                    batch_size: Optional[int] = None) -> np.ndarray:
    """Choice logits [num_examples x choices_num] in file order (-10000 for absent choices)."""
    return predict(model, data, batch_size or args.batch_size, args, ctx)["logits"]


def evaluate_choices(model: nn.Module, data: TaskDataset, args: Namespace, ctx: DistContext,
                     batch_size: Optional[int] = None) -> ChoiceResult:
    """Accuracy of the best-scored choice, logged as ``Acc. (Correct/Total): ...``."""
    logits = predict_choices(model, data, args, ctx, batch_size)
    acc, correct, total = accuracy(logits.argmax(axis=1), data.fixed["tgt"])
    logger.info("Acc. (Correct/Total): %.4f (%d/%d)", acc, correct, total)
    return ChoiceResult(acc, correct, total, logits)


class C3Encoder:
    """``[CLS] choice [SEP] question [SEP]`` (seg 1) ``context [SEP]`` (seg 2), longest part cut first."""

    def __init__(self, tokenizer: Any, seq_length: int, lower_case: bool):
        tokenizer.vocab.require([CLS_TOKEN, SEP_TOKEN], "multiple-choice inputs")
        self.encode = tokenizer.encode
        self.cls_id, self.sep_id = tokenizer.vocab.w2i[CLS_TOKEN], tokenizer.vocab.w2i[SEP_TOKEN]
        self.seq_length, self.lower_case = seq_length, lower_case
        self.truncated = 0

    def __call__(self, choice: str, question: str, context: List[int]) -> Tuple[List[int], List[int]]:
        if self.lower_case:
            choice, question = choice.lower(), question.lower()
        c, q = self.encode(choice), self.encode(question)
        keep_cq, keep_context = truncate_pair(len(c) + len(q), len(context), self.seq_length - 4)
        keep_c, keep_q = truncate_pair(len(c), len(q), keep_cq)
        self.truncated += keep_c + keep_q + keep_context < len(c) + len(q) + len(context)
        first = [self.cls_id] + c[:keep_c] + [self.sep_id] + q[:keep_q] + [self.sep_id]
        ids = first + context[:keep_context] + [self.sep_id]
        return ids, [1] * len(first) + [2] * (keep_context + 1)


def read_c3(path: str, tokenizer: Any, args: Namespace, with_labels: bool = True) -> TaskDataset:
    """One example per question (``src``, ``seg`` [max_choices_num x length], ``tgt`` with labels).

    The gold index is the position of the answer text among the choices, whatever their number.
    ``meta["ids"]``: each question's ``id``, or its position in the file when it has none.
    """
    encoder = C3Encoder(tokenizer, args.seq_length, bool(getattr(args, "do_lower_case", True)))
    documents = expect(load_json(path, "C3 file"), list, "the C3 file (a list of documents)", path, 1)
    src, seg, labels, ids = [], [], [], []
    missing_ids = 0
    for d, document in enumerate(documents):
        line = line_of(document, line_of(documents))
        expect(document, list, f"document {d}", path, line)
        if len(document) < 2:
            raise UserInputError(f"document {d} must be [[context lines], [questions], doc_id]", path=path, line=line)
        context_text = "\n".join(strings(document[0], f"the context lines of document {d}", path, line))
        if encoder.lower_case:
            context_text = context_text.lower()
        context = encoder.encode(context_text)
        questions = expect(document[1], list, f"the questions of document {d}", path, line)
        for qa in questions:
            qline = line_of(qa, line)
            where = f"a question of document {d}"
            question = field(qa, "question", str, path, qline, where)
            choices = strings(field(qa, "choice", list, path, qline, where), f"'choice' of {where}", path, qline)
            check_choices(len(choices), args.max_choices_num, where, path, qline)
            if with_labels:
                if isinstance(qa, dict) and "answer" not in qa:
                    raise UserInputError(f"{where} has no 'answer': training and scoring need the answers "
                                         f"(predict unlabelled files with inference/run_c3_infer.py)",
                                         path=path, line=qline)
                answer = field(qa, "answer", str, path, qline, where)
                if answer not in choices:
                    raise UserInputError(f"the answer {answer!r} of {where} is not one of its choices {choices}",
                                         path=path, line=qline)
                labels.append(choices.index(answer))
            qid = field(qa, "id", (str, int), path, qline, where, default=None)
            missing_ids += qid is None
            ids.append(len(ids) if qid is None else qid)
            rows = [encoder(choice, question, context) for choice in choices]
            ids_array, seg_array = stack_choices(rows, args.max_choices_num)
            src.append(ids_array)
            seg.append(seg_array)
    if not src:
        raise UserInputError("no questions found", path=path)
    if missing_ids:
        logger.info("%s: %d questions have no 'id'; their position in the file (from 0) names them", path,
                    missing_ids)
    if encoder.truncated:
        logger.info("%s: %d of %d (choice, question) inputs cut to --seq_length %d", path, encoder.truncated,
                    sum(int((s[:, 0] > 0).sum()) for s in seg), args.seq_length)
    data = TaskDataset({"src": src, "seg": seg}, {"tgt": labels} if with_labels else None, path=path)
    data.meta["ids"] = ids
    return data
