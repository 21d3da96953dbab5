"""BERT masking (15% of tokens: 80% [MASK], 10% random, 10% kept), span and whole-word variants.

One function serves both static masking (preprocess.py, a block of instances at a time) and
dynamic masking (the loader, one batch at a time): it works on a padded id matrix.
"""
import logging
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

logger = logging.getLogger(__name__)

MASK_PROB = 0.15  # share of the real tokens (``[CLS]``/``[SEP]`` included) to predict


@dataclass(frozen=True)
class MaskingConfig:
    """What a masker needs; stored in the dataset header so the loader can mask without a vocab."""

    vocab_size: int
    mask_id: int
    special_ids: Tuple[int, ...]  # never predicted nor used as random replacements ([PAD] included)
    span_masking: bool = False
    span_geo_prob: float = 0.2
    span_max_length: int = 10
    whole_word_masking: bool = False

    def to_dict(self) -> Dict[str, Any]:
        return {"vocab_size": self.vocab_size, "mask_id": self.mask_id, "special_ids": list(self.special_ids),
                "span_masking": self.span_masking, "span_geo_prob": self.span_geo_prob,
                "span_max_length": self.span_max_length, "whole_word_masking": self.whole_word_masking}

    @classmethod
    def from_dict(cls, values: Dict[str, Any]) -> "MaskingConfig":
        values = dict(values)
        values["special_ids"] = tuple(values["special_ids"])
        return cls(**values)


class Masker:
    """Chooses and corrupts the tokens to predict in a batch of sequences."""

    def __init__(self, config: MaskingConfig):
        self.config = config
        self._specials = np.array(sorted(set(config.special_ids)), dtype=np.int64)
        candidates = np.arange(1, config.vocab_size, dtype=np.int64)
        self._replacements = candidates[~np.isin(candidates, self._specials)]
        if self._replacements.size == 0:
            self._replacements = np.array([config.mask_id], dtype=np.int64)
        # Span lengths k in [1, max] with P(k) proportional to p (1 - p)^(k - 1) (SpanBERT).
        k = np.arange(1, config.span_max_length + 1)
        probs = config.span_geo_prob * (1 - config.span_geo_prob) ** (k - 1)
        self._span_probs = probs / probs.sum()

    def __call__(self, ids: np.ndarray, lengths: np.ndarray, rng: np.random.Generator,
                 word_starts: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray]:
        """Mask ``ids`` ``[batch_size x seq_length]`` whose rows have ``lengths`` real tokens.

        ``word_starts`` (same shape, 1 = first token of a word) enables whole-word masking.
        Returns ``(masked_ids, labels)``, both ``[batch_size x seq_length]``; ``labels`` holds the
        original id at each predicted position and 0 elsewhere. Every row with at least one
        maskable token gets at least one prediction.
        """
        ids = np.asarray(ids, dtype=np.int64)
        lengths = np.asarray(lengths, dtype=np.int64)
        rows, width = ids.shape
        real = np.arange(width)[None, :] < lengths[:, None]
        candidates = real
        for special in self._specials.tolist():  # a few comparisons beat np.isin on big blocks
            candidates = candidates & (ids != special)
        budget = np.maximum(1, np.floor(lengths * MASK_PROB + 0.5).astype(np.int64))
        budget = np.minimum(budget, candidates.sum(axis=1))
        use_units = self.config.span_masking or (self.config.whole_word_masking and word_starts is not None)
        if use_units:
            chosen, decision = self._choose_units(candidates, budget, rng, word_starts)
        else:
            chosen = self._choose_tokens(candidates, budget, rng)
            decision = rng.random((rows, width))
        masked = ids.copy()
        labels = np.where(chosen, ids, 0)
        masked[chosen & (decision < 0.8)] = self.config.mask_id
        randomized = chosen & (decision >= 0.8) & (decision < 0.9)
        count = int(randomized.sum())
        if count:
            masked[randomized] = self._replacements[rng.integers(0, self._replacements.size, size=count)]
        return masked, labels

    @staticmethod
    def _choose_tokens(candidates: np.ndarray, budget: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``budget[i]`` candidate positions of row i, uniformly, all rows at once."""
        rows, width = candidates.shape
        scores = rng.random((rows, width))
        scores[~candidates] = 2.0  # non-candidates sort last
        most = int(budget.max()) if rows else 0
        order = np.argsort(scores, axis=1)[:, :most]
        chosen = np.zeros((rows, width), dtype=bool)
        np.put_along_axis(chosen, order, np.arange(most)[None, :] < budget[:, None], axis=1)
        return chosen & candidates

    def _choose_units(self, candidates: np.ndarray, budget: np.ndarray, rng: np.random.Generator,
                      word_starts: Optional[np.ndarray]) -> Tuple[np.ndarray, np.ndarray]:
        """Row by row: group positions into words (or tokens), then into geometric spans."""
        rows, width = candidates.shape
        chosen = np.zeros((rows, width), dtype=bool)
        decision = np.ones((rows, width))
        whole_word = self.config.whole_word_masking and word_starts is not None
        for r in range(rows):
            runs = _runs_of_units(candidates[r].tolist(), word_starts[r].tolist() if whole_word else None)
            spans = self._spans(runs, rng) if self.config.span_masking else [u for run in runs for u in run]
            if not spans:
                continue
            remaining = int(budget[r])
            taken = False
            for index in rng.permutation(len(spans)).tolist():
                start, end = spans[index]
                if end - start <= remaining:
                    remaining -= end - start
                    self._take(chosen, decision, r, start, end, rng)
                    taken = True
                    if remaining == 0:
                        break
            if not taken:  # every span exceeds the budget: still predict one (the smallest)
                start, end = min(spans, key=lambda span: span[1] - span[0])
                self._take(chosen, decision, r, start, end, rng)
        return chosen, decision

    @staticmethod
    def _take(chosen: np.ndarray, decision: np.ndarray, row: int, start: int, end: int,
              rng: np.random.Generator) -> None:
        chosen[row, start:end] = True
        decision[row, start:end] = rng.random()  # one 80/10/10 decision per span or word

    def _spans(self, runs: List[List[List[int]]], rng: np.random.Generator) -> List[Tuple[int, int]]:
        """Cut each run of units into consecutive spans of geometric length (in units)."""
        spans = []
        for run in runs:
            lengths = rng.choice(len(self._span_probs), size=len(run), p=self._span_probs) + 1
            i = 0
            for k in lengths.tolist():
                if i >= len(run):
                    break
                last = min(i + k, len(run)) - 1
                spans.append((run[i][0], run[last][1]))
                i += k
        return spans


def _runs_of_units(candidates: Sequence[bool], word_starts: Optional[Sequence[int]]) -> List[List[List[int]]]:
    """Maximal runs of maskable positions, each a list of ``[start, end)`` units.

    A unit is one token, or one word when ``word_starts`` is given; spans never cross a special
    token, so a ``[SEP]`` between two sentences stays visible.
    """
    runs: List[List[List[int]]] = []
    current: Optional[List[List[int]]] = None
    for position, is_candidate in enumerate(candidates):
        if not is_candidate:
            current = None
            continue
        if current is None:
            current = [[position, position + 1]]
            runs.append(current)
        elif word_starts is not None and not word_starts[position]:
            current[-1][1] = position + 1
        else:
            current.append([position, position + 1])
    return runs
