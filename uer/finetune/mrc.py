"""Extractive machine reading comprehension (CMRC 2018, SQuAD-style JSON): the reader, the sliding
windows over long contexts and the span decoding, shared by run_cmrc and run_cmrc_infer.

File format: ``{"data": [{"paragraphs": [{"context": str, "qas": [{"id", "question", "answers":
[{"text", "answer_start"}]}]}]}]}``. Training uses the first answer of each question; evaluation
scores against all of them (:mod:`uer.finetune.mrc_metric`); prediction needs no answers.

Characters are the tokens (UER-py's char tokenization), one per character of the context, spaces
included, so a token position maps back to a character offset exactly.
"""
import argparse
import logging
from argparse import Namespace
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch.nn as nn

from uer.finetune.inputs import TaskDataset
from uer.finetune.jsonfile import field, line_of, load_json
from uer.finetune.mrc_metric import cmrc_scores
from uer.finetune.predict import predict
from uer.training.runtime import DistContext
from uer.utils.constants import CLS_TOKEN, SEP_TOKEN
from uer.utils.errors import UserInputError

logger = logging.getLogger(__name__)


def mrc_opts(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("reading comprehension")
    group.add_argument("--doc_stride", type=int, default=128,
                       help="Characters between the starts of two windows over a long context.")
    group.add_argument("--max_answer_length", type=int, default=64, help="Longest answer predicted, in characters.")
    group.add_argument("--n_best_size", type=int, default=20, help="Candidate answers kept per question.")


def check_mrc_args(args: Namespace) -> None:
    if args.seq_length < 8:
        raise UserInputError(f"--seq_length {args.seq_length} is too short for a question and a context (>= 8)")
    for name in ("doc_stride", "max_answer_length", "n_best_size"):
        if getattr(args, name) < 1:
            raise UserInputError(f"--{name} must be at least 1, got {getattr(args, name)}")


@dataclass
class MrcExample:
    qid: str
    question: str
    context: str
    answers: List[str]                 # every gold answer text (evaluation)
    start: Optional[int] = None        # character span of the first answer (training), inclusive
    end: Optional[int] = None
    line: Optional[int] = None


def locate_answer(context: str, text: str, answer_start: Any) -> Optional[int]:
    """The offset of ``text`` in ``context``: ``answer_start`` when right, else the occurrence
    nearest to it (some shipped files are off by a few characters), None when absent."""
    if not text:
        return None
    hint = answer_start if isinstance(answer_start, int) and not isinstance(answer_start, bool) else -1
    if hint >= 0 and context.startswith(text, hint):
        return hint
    found, position = [], context.find(text)
    while position >= 0:
        found.append(position)
        position = context.find(text, position + 1)
    return min(found, key=lambda p: abs(p - hint)) if found else None


def read_mrc(path: str, need_answers: bool = True) -> List[MrcExample]:
    """Questions of a SQuAD-style file in file order. With ``need_answers`` every question needs an
    answer text; the first one is located in the context (``start``/``end``; None when it is not
    there, which :func:`build_windows` reports)."""
    document = load_json(path, "reading comprehension file")
    articles = field(document, "data", list, path, where="the file")
    examples: List[MrcExample] = []
    seen: Dict[str, int] = {}
    relocated = 0
    for article in articles:
        for paragraph in field(article, "paragraphs", list, path, line_of(articles), "an article"):
            line = line_of(paragraph, line_of(article))
            context = field(paragraph, "context", str, path, line, "a paragraph")
            for qa in field(paragraph, "qas", list, path, line, "a paragraph"):
                qline = line_of(qa, line)
                qid = field(qa, "id", (str, int), path, qline, "a question")
                where = f"question {qid!r}"
                if str(qid) in seen:
                    raise UserInputError(f"{where} appears twice (first at line {seen[str(qid)]}); ids must be unique",
                                         path=path, line=qline)
                seen[str(qid)] = qline
                question = field(qa, "question", str, path, qline, where)
                answers = field(qa, "answers", list, path, qline, where, default=[])
                texts = [field(a, "text", str, path, qline, f"an answer of {where}") for a in answers]
                if need_answers and not texts:
                    raise UserInputError(f"{where} has no answers; training and evaluation need at least one",
                                         path=path, line=qline)
                example = MrcExample(str(qid), question, context, texts, line=qline)
                if texts:
                    hint = answers[0].get("answer_start") if isinstance(answers[0], dict) else None
                    start = locate_answer(context, texts[0], hint)
                    if start is not None:
                        example.start, example.end = start, start + len(texts[0]) - 1
                        relocated += start != hint
                examples.append(example)
    if not examples:
        raise UserInputError("no questions found (expected data -> paragraphs -> qas)", path=path)
    if need_answers and relocated:
        logger.info("%s: %d answers are not at their answer_start; their nearest occurrence is used", path, relocated)
    return examples


class WindowEncoder:
    """``[CLS] question [SEP] window [SEP]`` (seg 1, then 2) over a context cut into windows of
    ``seq_length - len(question) - 3`` characters every ``doc_stride`` characters. Questions longer
    than half the input are truncated, so every window holds some context."""

    def __init__(self, tokenizer: Any, seq_length: int, doc_stride: int):
        vocab = tokenizer.vocab
        vocab.require([CLS_TOKEN, SEP_TOKEN], "reading comprehension inputs")
        self.cls_id, self.sep_id = vocab.w2i[CLS_TOKEN], vocab.w2i[SEP_TOKEN]
        self.convert = tokenizer.convert_tokens_to_ids
        self.seq_length, self.doc_stride = seq_length, doc_stride
        self.max_question = (seq_length - 3) // 2

    def windows(self, example: MrcExample) -> Tuple[List[int], List[int], List[Tuple[int, int]]]:
        """Question ids, context ids (one per character) and the ``(char start, length)`` windows."""
        question = self.convert(list(example.question.strip()))[:self.max_question]
        context = self.convert(list(example.context))
        width = self.seq_length - len(question) - 3
        stride = min(width, self.doc_stride)
        spans, start = [], 0
        while True:
            spans.append((start, min(width, len(context) - start)))
            if start + width >= len(context):
                return question, context, spans
            start += stride

    def encode(self, question: List[int], context: List[int], start: int, length: int) -> Tuple[np.ndarray, np.ndarray]:
        ids = [self.cls_id] + question + [self.sep_id] + context[start:start + length] + [self.sep_id]
        seg = np.full(len(ids), 2, dtype=np.int8)
        seg[:len(question) + 2] = 1
        return np.asarray(ids, dtype=np.int32), seg


def build_windows(examples: Sequence[MrcExample], tokenizer: Any, args: Namespace, with_labels: bool,
                  path: Optional[str] = None) -> TaskDataset:
    """One example per window: ``src``, ``seg`` and, ``with_labels``, ``start_position`` and
    ``end_position`` (the answer's token positions when it lies wholly in the window, else 0, the
    ``[CLS]``). Questions whose answer is not in their context are left out of training, with a
    warning naming them. ``meta``: per window ``example`` (index into ``examples``), ``char_start``
    (its first context character) and ``offset`` (the token position of that character)."""
    encoder = WindowEncoder(tokenizer, args.seq_length, args.doc_stride)
    src, seg, starts, ends, owners, char_starts, offsets = [], [], [], [], [], [], []
    unanswerable, truncated = [], 0
    for index, example in enumerate(examples):
        if with_labels and example.start is None:
            unanswerable.append(example)
            continue
        question, context, spans = encoder.windows(example)
        truncated += len(question) < len(example.question.strip())
        offset = len(question) + 2
        for start, length in spans:
            ids, segments = encoder.encode(question, context, start, length)
            src.append(ids)
            seg.append(segments)
            owners.append(index)
            char_starts.append(start)
            offsets.append(offset)
            if with_labels:
                inside = start <= example.start and example.end < start + length
                starts.append(offset + example.start - start if inside else 0)
                ends.append(offset + example.end - start if inside else 0)
    if unanswerable:
        shown = ", ".join(f"{e.qid!r} (line {e.line})" for e in unanswerable[:5])
        logger.warning("%s: %d of %d questions are left out of training: their first answer is not in the "
                       "context: %s%s", path, len(unanswerable), len(examples), shown,
                       ", ..." if len(unanswerable) > 5 else "")
    if not src:
        raise UserInputError("no question has its answer in its context: nothing to train on", path=path)
    if truncated:
        logger.info("%s: %d questions cut to %d characters (half of --seq_length)", path, truncated,
                    encoder.max_question)
    fixed = {"start_position": starts, "end_position": ends} if with_labels else None
    data = TaskDataset({"src": src, "seg": seg}, fixed, path=path)
    data.meta.update(example=np.asarray(owners), char_start=np.asarray(char_starts), offset=np.asarray(offsets))
    logger.info("%s: %d questions, %d windows", path, len(examples) - len(unanswerable), len(src))
    return data


def _log_softmax(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    shifted = x - x.max()
    return shifted - np.log(np.exp(shifted).sum())


def window_spans(start_logits: np.ndarray, end_logits: np.ndarray, offset: int, n_best: int,
                 max_answer_length: int) -> List[Tuple[float, int, int]]:
    """The ``n_best`` best ``(score, first, last)`` context positions of one window (relative to the
    window's first character), ``last >= first``, at most ``max_answer_length`` long. The score
    is log p(start) + log p(end) with the softmax over the whole window, ``[CLS]`` included, so
    windows that hold no answer score low and scores compare across windows."""
    start = _log_softmax(start_logits)[offset:-1]   # the context: after the question, before the last [SEP]
    end = _log_softmax(end_logits)[offset:-1]
    n = len(start)
    if n == 0:
        return []
    last = np.arange(n)[:, None] + np.arange(min(max_answer_length, n))[None, :]   # [n x max_len]
    scores = np.where(last < n, start[:, None] + end[np.minimum(last, n - 1)], -np.inf)
    flat = scores.ravel()
    k = min(n_best, int(np.isfinite(flat).sum()))
    best = np.argpartition(-flat, k - 1)[:k]
    width = scores.shape[1]
    return [(float(flat[i]), int(i // width), int(i // width + i % width)) for i in best]


Answers = List[List[Tuple[str, float]]]   # per question, (text, score) best first


def decode_answers(examples: Sequence[MrcExample], data: TaskDataset, start_logits: Sequence[np.ndarray],
                   end_logits: Sequence[np.ndarray], n_best: int, max_answer_length: int) -> Answers:
    """Per question, up to ``n_best`` distinct answers ``(text, score)``, best first, over all of its
    windows; empty when no window has context."""
    candidates: List[Dict[Tuple[int, int], float]] = [{} for _ in examples]
    meta = data.meta
    for w in range(len(data)):
        found = candidates[meta["example"][w]]
        char_start = int(meta["char_start"][w])
        for score, first, last in window_spans(start_logits[w], end_logits[w], int(meta["offset"][w]), n_best,
                                               max_answer_length):
            span = (char_start + first, char_start + last)
            found[span] = max(score, found.get(span, -np.inf))
    results = []
    for example, found in zip(examples, candidates):
        answers: Dict[str, float] = {}
        for (first, last), score in sorted(found.items(), key=lambda item: -item[1]):
            text = example.context[first:last + 1].strip()
            if text and text not in answers:
                answers[text] = score
        results.append(list(answers.items())[:n_best])
    return results


def predict_answers(model: nn.Module, examples: Sequence[MrcExample], data: TaskDataset, args: Namespace,
                    ctx: DistContext, batch_size: Optional[int] = None) -> Answers:
    keys = ("start_logits", "end_logits")
    out = predict(model, data, batch_size or args.batch_size, args, ctx, keys=keys, trim=keys)
    return decode_answers(examples, data, out["start_logits"], out["end_logits"], args.n_best_size,
                          args.max_answer_length)


def evaluate_mrc(model: nn.Module, examples: Sequence[MrcExample], data: TaskDataset, args: Namespace,
                 ctx: DistContext, batch_size: Optional[int] = None) -> Dict[str, float]:
    """CMRC 2018 F1/EM of the best answers, logged as UER-py did: ``Avg: x,F1:x,EM:x,Total:n,Skip:k``."""
    nbest = predict_answers(model, examples, data, args, ctx, batch_size)
    predictions = {e.qid: (best[0][0] if best else None) for e, best in zip(examples, nbest)}
    scores = cmrc_scores(predictions, {e.qid: e.answers for e in examples})
    logger.info("Avg: %.4f,F1:%.4f,EM:%.4f,Total:%d,Skip:%d", scores["avg"], scores["f1"], scores["em"],
                scores["total"], scores["skip"])
    return scores
