"""Move a checkpoint to a new vocabulary (behind ``scripts/dynamic_vocab_adapter.py``).

Every tensor with one row per token (input embedding, MLM or LM output layer and bias, a T5
decoder embedding sharing the vocabulary) is re-indexed: a token of both vocabularies keeps its
row; a new token gets the mean of the rows of the pieces the old vocabulary splits it into (BERT
basic tokenization + WordPiece; ``##x`` is split as a word continuation), a better start than the
original's random rows. A token that yields no piece (white space) gets the ``[UNK]`` row.
"""
import logging
from dataclasses import dataclass, field
from typing import Dict, List, Sequence, Tuple

import torch

from uer.tokenizers import BertTokenizer
from uer.tokenizers.vocab import Vocab
from uer.tokenizers.wordpiece import CONTINUATION

logger = logging.getLogger(__name__)

SOURCE_VOCAB_KEYS = ("embedding.word_embedding.weight",)
TARGET_VOCAB_KEYS = ("target.mlm_linear_2.weight", "target.mlm_linear_2.bias", "target.output_layer.weight",
                     "target.output_layer.bias", "target.embedding.word_embedding.weight")


@dataclass
class AdaptReport:
    copied: int = 0
    composed: List[Tuple[str, List[str]]] = field(default_factory=list)  # new token, its old pieces
    fallback: List[str] = field(default_factory=list)
    keys: List[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{self.copied} tokens copied, {len(self.composed)} composed from old pieces, "
                f"{len(self.fallback)} given the unknown token's row; adapted {', '.join(self.keys)}")


def continuation_pieces(text: str, vocab: Vocab) -> List[str]:
    """Greedy longest-match split of ``text`` using ``##`` pieces only (text continues a word)."""
    pieces, start = [], 0
    while start < len(text):
        for end in range(len(text), start, -1):
            piece = CONTINUATION + text[start:end]
            if piece in vocab.w2i:
                pieces.append(piece)
                start = end
                break
        else:
            return [vocab.unk_token]
    return pieces


def old_pieces(token: str, tokenizer: BertTokenizer) -> List[str]:
    """The pieces of the old vocabulary that spell the new ``token``."""
    if token.startswith(CONTINUATION) and len(token) > len(CONTINUATION):
        return continuation_pieces(token[len(CONTINUATION):], tokenizer.vocab)
    return tokenizer.tokenize(token)


def row_sources(old_vocab: Vocab, new_vocab: Vocab, do_lower_case: bool = True) -> Tuple[List[List[int]], AdaptReport]:
    """For each new token, the old rows its row averages (one row when it is shared)."""
    tokenizer = BertTokenizer(old_vocab, do_lower_case=do_lower_case)
    unk_id = old_vocab.get(old_vocab.unk_token)
    report, sources = AdaptReport(), []
    for token in new_vocab.i2w:
        if token in old_vocab.w2i:
            sources.append([old_vocab.w2i[token]])
            report.copied += 1
            continue
        pieces = old_pieces(token, tokenizer)
        if pieces:
            sources.append(tokenizer.convert_tokens_to_ids(pieces))
            report.composed.append((token, pieces))
        else:
            sources.append([unk_id])
            report.fallback.append(token)
    return sources, report


def adapt_state_dict(state_dict: Dict[str, torch.Tensor], old_vocab: Vocab, new_vocab: Vocab,
                     keys: Sequence[str] = SOURCE_VOCAB_KEYS + TARGET_VOCAB_KEYS,
                     do_lower_case: bool = True) -> Tuple[Dict[str, torch.Tensor], AdaptReport]:
    """A copy of ``state_dict`` whose per-token tensors among ``keys`` follow ``new_vocab``.

    A tensor is re-indexed when its first dimension equals the old vocabulary size; tensors tied in
    the input stay tied (one tensor under both names).
    """
    sources, report = row_sources(old_vocab, new_vocab, do_lower_case)
    copy_index = torch.tensor([rows[0] for rows in sources])
    composed = [(i, rows) for i, rows in enumerate(sources) if len(rows) > 1]
    done: Dict[int, torch.Tensor] = {}  # data_ptr of an old tensor -> its new tensor (tied weights)
    new_state = dict(state_dict)
    for key in keys:
        tensor = state_dict.get(key)
        if tensor is None or tensor.dim() == 0 or tensor.size(0) != len(old_vocab):
            continue
        pointer = tensor.data_ptr()
        if pointer not in done:
            new = tensor[copy_index].clone()
            for i, rows in composed:
                new[i] = tensor[rows].float().mean(dim=0).to(tensor.dtype)
            done[pointer] = new
        new_state[key] = done[pointer]
        report.keys.append(key)
    logger.info("vocabulary %d -> %d tokens: %s", len(old_vocab), len(new_vocab), report.summary())
    return new_state, report
