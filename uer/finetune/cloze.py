"""Fill blanks with a masked language model, behind scripts/cloze_test.py and
``uer.load(...).fill_mask``: every blank of a sentence is masked in one forward pass (as
transformers' fill-mask pipeline does) and gets its top-n tokens with their probabilities."""
import re
from typing import Any, List, Sequence, Tuple

import torch
import torch.nn as nn

from uer.finetune.batching import sorted_batches
from uer.utils.constants import CLS_TOKEN, MASK_TOKEN, PAD_ID, SEP_TOKEN

# The tensors a cloze test reads: a checkpoint without them cannot fill blanks.
MLM_HEAD = ("embedding.", "encoder.", "target.mlm_linear_1.", "target.layer_norm.", "target.mlm_linear_2.")

# A blank: top-n (token ids, probabilities), best first.
Guesses = Tuple[List[int], List[float]]


def tokenize_keeping_masks(tokenizer: Any, text: str) -> List[str]:
    """Tokens of ``text`` with every typed ``[MASK]`` (or the vocabulary's own mask token, e.g.
    RoBERTa's ``<mask>``) kept as one ``[MASK]`` token, whatever the tokenizer: the text between
    blanks is tokenized piece by piece (the char and space tokenizers and SentencePiece would
    otherwise cut ``[MASK]`` into pieces)."""
    markers = {MASK_TOKEN, getattr(tokenizer.vocab, "aliases", {}).get(MASK_TOKEN, MASK_TOKEN)}
    pieces = re.split("|".join(re.escape(m) for m in sorted(markers, key=len, reverse=True)), text)
    tokens = tokenizer.tokenize(pieces[0])
    for piece in pieces[1:]:
        tokens += [MASK_TOKEN] + tokenizer.tokenize(piece)
    return tokens


def fill_blanks(model: nn.Module, tokenizer: Any, examples: Sequence[Tuple[List[str], List[int]]],
                batch_size: int, topn: int) -> List[List[Guesses]]:
    """For each ``(tokens, blank positions)`` (positions in ``tokens``; the sentence is encoded as
    ``[CLS] tokens [SEP]`` with the blanks masked), the guesses of each blank. ``model`` is a
    :class:`uer.models.model.Model` with a masked-LM target; batches are sorted by length."""
    device = next(model.parameters()).device
    topn = min(topn, len(tokenizer.vocab))
    results: List[List[Guesses]] = [[] for _ in examples]
    with torch.inference_mode():
        for indices in sorted_batches([len(tokens) for tokens, _ in examples], batch_size):
            width = max(len(examples[k][0]) for k in indices) + 2
            src = torch.full((len(indices), width), PAD_ID, dtype=torch.long)
            seg = torch.zeros_like(src)
            rows, positions = [], []
            for row, k in enumerate(indices):
                tokens, blanks = examples[k]
                masked = [CLS_TOKEN] + [MASK_TOKEN if i in blanks else t for i, t in enumerate(tokens)] + [SEP_TOKEN]
                src[row, :len(masked)] = torch.tensor(tokenizer.convert_tokens_to_ids(masked))
                seg[row, :len(masked)] = 1
                rows += [row] * len(blanks)
                positions += [i + 1 for i in blanks]
            hidden = model.encode(src.to(device), seg.to(device))
            picked = hidden[torch.tensor(rows, device=device), torch.tensor(positions, device=device)]
            probs = torch.softmax(model.target.mlm_logits(picked).float(), dim=-1).topk(topn, dim=-1)
            guesses = iter(zip(probs.indices.tolist(), probs.values.tolist()))
            for k in indices:
                results[k] = [next(guesses) for _ in examples[k][1]]
    return results
