"""The CMRC 2018 metric (Cui et al., 2019), written from the official evaluation's definition.

- EM: the prediction equals one of the gold answers after lower-casing and removing the official
  punctuation list and all white space.
- F1: both strings are cut into a "mixed segmentation" (every CJK character alone, runs of other
  characters split into words and symbols, punctuation removed); precision and recall come from
  the longest common *contiguous* run of segments (the official ``find_lcs``); the best gold
  answer counts.
- Both are averaged over all questions (x 100); a question without prediction scores 0 and is
  counted in ``skip``.

The official script splits non-CJK runs with ``nltk.word_tokenize``; a regular expression close to
it for the words that occur in answers (numbers like ``39764.0`` and ``3,000`` stay one word)
is used instead, so nltk is not needed.
"""
import re
from typing import Dict, List, Mapping, Optional, Sequence

# The official list (its two-character "……" becomes the single character "…").
PUNCTUATION = frozenset("-:_*^/\\~`+=，。：？！“”；’《》…·、「」（）－～『』")
_CJK = re.compile("[\u4e00-\u9fa5]")
_WORD = re.compile(r"\w+(?:[.,']\w+)*|[^\w\s]")


def _words(run: str) -> List[str]:
    return _WORD.findall(run)


def mixed_segmentation(text: str, remove_punctuation: bool = True) -> List[str]:
    """``"CMRC比赛2018"`` -> ``["cmrc", "比", "赛", "2018"]``."""
    segments: List[str] = []
    run: List[str] = []
    for char in text.lower().strip():
        if remove_punctuation and char in PUNCTUATION:
            continue
        if _CJK.match(char) or char in PUNCTUATION:
            segments.extend(_words("".join(run)))
            run = []
            segments.append(char)
        else:
            run.append(char)
    segments.extend(_words("".join(run)))
    return segments


def normalize_answer(text: str) -> str:
    """Lower-cased, without punctuation and white space (the EM comparison)."""
    return "".join(c for c in text.lower() if c not in PUNCTUATION and not c.isspace())


def longest_common_run(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest contiguous run of items shared by ``a`` and ``b``."""
    best = 0
    previous = [0] * (len(b) + 1)
    for item in a:
        current = [0] * (len(b) + 1)
        for j, other in enumerate(b):
            if item == other:
                current[j + 1] = previous[j] + 1
                best = max(best, current[j + 1])
        previous = current
    return best


def f1_score(prediction: str, answers: Sequence[str]) -> float:
    """Best F1 (0..1) of ``prediction`` against any of ``answers``."""
    predicted = mixed_segmentation(prediction)
    best = 0.0
    for answer in answers:
        gold = mixed_segmentation(answer)
        common = longest_common_run(gold, predicted)
        if common:
            precision, recall = common / len(predicted), common / len(gold)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def exact_match(prediction: str, answers: Sequence[str]) -> float:
    predicted = normalize_answer(prediction)
    return float(any(normalize_answer(answer) == predicted for answer in answers))


def cmrc_scores(predictions: Mapping[str, Optional[str]], gold: Mapping[str, Sequence[str]]) -> Dict[str, float]:
    """``{"f1", "em", "avg"}`` in percent over the questions of ``gold`` (``{id: answers}``), plus
    ``total`` and ``skip`` (questions without a prediction, or whose prediction is None)."""
    f1 = em = 0.0
    skip = 0
    for qid, answers in gold.items():
        prediction = predictions.get(qid)
        if prediction is None:
            skip += 1
            continue
        f1 += f1_score(prediction, answers)
        em += exact_match(prediction, answers)
    total = len(gold)
    f1 = 100.0 * f1 / total if total else 0.0
    em = 100.0 * em / total if total else 0.0
    return {"f1": f1, "em": em, "avg": (f1 + em) / 2, "total": total, "skip": skip}
