"""ChID idiom cloze (run_chid, run_chid_infer): the reader and the one-idiom-per-blank assignment.

Data file: JSON lines ``{"candidates": [idioms], "content": [passages]}``; every ``#idiomNNNNNN#``
tag of a passage is a blank, and one example. Answer file: one JSON object ``{tag: index of the
right candidate}``.

Each candidate is scored on ``[CLS] candidate [SEP]`` (seg 1) ``left [unused1] right [SEP]``
(seg 2), where ``[unused1]`` stands for this blank and ``[MASK]`` for the other blanks around
it; the context keeps as much text on both sides of the blank as fits (UER-py kept a window of
``seq_length - 4`` characters and then cut its right end, and gave every token segment 0).
"""
import logging
import re
from argparse import Namespace
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from uer.finetune.inputs import TaskDataset
from uer.finetune.jsonfile import field, iter_json_lines, load_json, strings
from uer.finetune.multiple_choice import check_choices, stack_choices
from uer.utils.constants import CLS_TOKEN, MASK_TOKEN, SEP_TOKEN
from uer.utils.errors import UserInputError

logger = logging.getLogger(__name__)

TAG = re.compile(r"#idiom\d+#")
BLANK_TOKEN = "[unused1]"


def read_chid_answers(path: str) -> Dict[str, int]:
    answers = load_json(path, "ChID answer file")
    if not isinstance(answers, dict):
        raise UserInputError('expected one JSON object {"#idiom000000#": candidate index, ...}', path=path, line=1)
    for tag, index in answers.items():
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise UserInputError(f"the answer of {tag} must be a candidate index (an integer >= 0), got {index!r}",
                                 path=path, line=answers.line)
    return dict(answers)


def _split_context(left: int, right: int, budget: int) -> tuple:
    """How many tokens to keep on each side of the blank: half each, the unused part to the other side."""
    keep_left = min(left, max(budget // 2, budget - right))
    return keep_left, min(right, budget - keep_left)


def read_chid(path: str, tokenizer: Any, args: Namespace, answer_path: Optional[str] = None) -> TaskDataset:
    """One example per blank (``src``, ``seg`` [max_choices_num x length]; ``tgt`` from ``answer_path``).

    ``meta``: ``tags`` (the blank's tag), ``groups`` (the data line it came from: blanks of one line
    share its candidates), ``candidates_num``.
    """
    vocab = tokenizer.vocab
    vocab.require([CLS_TOKEN, SEP_TOKEN, MASK_TOKEN, BLANK_TOKEN], "ChID inputs (the blank is [unused1])")
    cls_id, sep_id, mask_id, blank_id = (vocab.w2i[t] for t in (CLS_TOKEN, SEP_TOKEN, MASK_TOKEN, BLANK_TOKEN))
    convert = tokenizer.convert_tokens_to_ids
    answers = read_chid_answers(answer_path) if answer_path else None
    src, seg, labels, tags, groups, counts = [], [], [], [], [], []
    seen: Dict[str, int] = {}
    for line_no, item in iter_json_lines(path, "ChID file"):
        candidates = strings(field(item, "candidates", list, path, line_no), "'candidates'", path, line_no)
        check_choices(len(candidates), args.max_choices_num, "the line", path, line_no)
        passages = strings(field(item, "content", list, path, line_no), "'content'", path, line_no)
        encoded = [convert(list(c)) for c in candidates]
        budget = args.seq_length - 4 - max(len(c) for c in encoded)
        if budget < 2:
            raise UserInputError(f"--seq_length {args.seq_length} leaves no room for the context of a candidate of "
                                 f"{max(len(c) for c in encoded)} characters", path=path, line=line_no)
        for passage in passages:
            pieces = TAG.split(passage)        # text between the blanks
            found = TAG.findall(passage)
            for b, tag in enumerate(found):
                if tag in seen:
                    raise UserInputError(f"the blank {tag} appears twice (first on line {seen[tag]})",
                                         path=path, line=line_no)
                seen[tag] = line_no
                if answers is not None:
                    if tag not in answers:
                        raise UserInputError(f"the blank {tag} (line {line_no} of {path}) has no answer",
                                             path=answer_path)
                    if answers[tag] >= len(candidates):
                        raise UserInputError(f"the answer of {tag} is {answers[tag]} but its line has "
                                             f"{len(candidates)} candidates", path=answer_path)
                    labels.append(answers[tag])
                left = _with_masks(pieces[:b + 1], convert, mask_id)
                right = _with_masks(pieces[b + 1:], convert, mask_id)
                keep_left, keep_right = _split_context(len(left), len(right), budget)
                context = left[len(left) - keep_left:] + [blank_id] + right[:keep_right] + [sep_id]
                rows = [([cls_id] + c + [sep_id] + context, [1] * (len(c) + 2) + [2] * len(context))
                        for c in encoded]
                ids_array, seg_array = stack_choices(rows, args.max_choices_num)
                src.append(ids_array)
                seg.append(seg_array)
                tags.append(tag)
                groups.append(line_no)
                counts.append(len(candidates))
    if not src:
        raise UserInputError("no blanks (#idiom...# tags) found in the passages", path=path)
    if answers is not None and len(answers) > len(seen):
        logger.warning("%s: %d answers name blanks absent from %s", answer_path, len(answers) - len(seen), path)
    data = TaskDataset({"src": src, "seg": seg}, {"tgt": labels} if answers is not None else None, path=path)
    data.meta.update(tags=tags, groups=groups, candidates_num=counts)
    return data


def _with_masks(pieces: Sequence[str], convert: Any, mask_id: int) -> List[int]:
    """Character ids of ``pieces`` joined by ``[MASK]`` (the other blanks)."""
    ids: List[int] = []
    for i, piece in enumerate(pieces):
        if i:
            ids.append(mask_id)
        ids.extend(convert(list(piece)))
    return ids


def assign_candidates(logits: np.ndarray, groups: Sequence[Any], candidates_num: Sequence[int]) -> List[int]:
    """The candidate chosen for every blank: within each group (blanks sharing candidates), the
    highest-scored (blank, candidate) pair is fixed first, then the best among the remaining
    blanks and candidates, and so on, so no idiom fills two blanks while another is left. A group
    with more blanks than candidates gives its extra blanks their best candidate."""
    chosen = [-1] * len(logits)
    members: Dict[Any, List[int]] = {}
    for index, group in enumerate(groups):
        members.setdefault(group, []).append(index)
    for rows in members.values():
        scores = np.asarray(logits[rows], dtype=np.float64)[:, :candidates_num[rows[0]]]
        free = np.ones(scores.shape, dtype=bool)
        for _ in range(min(scores.shape)):
            masked = np.where(free, scores, -np.inf)
            blank, candidate = np.unravel_index(int(masked.argmax()), masked.shape)
            chosen[rows[blank]] = int(candidate)
            free[blank, :] = False
            free[:, candidate] = False
        for blank, index in enumerate(rows):
            if chosen[index] < 0:
                chosen[index] = int(scores[blank].argmax())
    return chosen
