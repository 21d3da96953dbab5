"""Text generation: sampling, language-model continuation and seq2seq decoding.

Sampling follows the usual recipe (Holtzman et al., 2020, for nucleus sampling): divide the logits
by ``temperature``, keep the ``top_k`` best tokens and the smallest set whose probability reaches
``top_p``, then draw. ``greedy`` (or ``top_k == 1``) takes the argmax.

A causal transformer (GPT-2) generates with the encoder's key/value cache: the prompt is encoded
once and every new token costs one step over one position (the original recomputed the whole
sequence per token). Models without a cache (LSTM, GatedCNN, a transformer whose mask is not
causal) recompute the sequence each step. Seq2seq models (T5, transformer seq2seq) encode the
source once and decode with the decoder's self-attention cache.
"""
import argparse
import logging
from dataclasses import dataclass, field
from typing import Any, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from uer.targets.lm_target import LmTarget
from uer.utils.constants import CLS_TOKEN, PAD_ID, PAD_TOKEN, SEP_TOKEN
from uer.utils.errors import UserInputError

logger = logging.getLogger(__name__)

SPIECE_UNDERLINE = "\u2581"


@dataclass(frozen=True)
class Sampling:
    """How the next token is chosen. ``top_k`` 0 and ``top_p`` 0 disable those filters."""

    top_k: int = 70
    top_p: float = 0.0
    temperature: float = 1.0
    greedy: bool = False

    def __post_init__(self) -> None:
        if self.top_k < 0:
            raise UserInputError(f"--top_k must be >= 0 (0 disables it), got {self.top_k}")
        if not 0.0 <= self.top_p <= 1.0:
            raise UserInputError(f"--top_p must be in [0, 1] (0 disables it), got {self.top_p}")
        if not self.temperature > 0.0:
            raise UserInputError(f"--temperature must be > 0, got {self.temperature}")

    @property
    def is_greedy(self) -> bool:
        return self.greedy or self.top_k == 1

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "Sampling":
        return cls(args.top_k, args.top_p, args.temperature, getattr(args, "greedy", False))


def sampling_opts(parser: argparse.ArgumentParser) -> None:
    """``--top_k`` 70, ``--top_p`` 0, ``--temperature`` 1.0 (UER-py's defaults), ``--greedy``, ``--seed``."""
    group = parser.add_argument_group("sampling")
    group.add_argument("--top_k", type=int, default=70, help="Sample among the k most likely tokens (0: all).")
    group.add_argument("--top_p", type=float, default=0.0, help="Nucleus sampling threshold (0: off).")
    group.add_argument("--temperature", type=float, default=1.0, help="Logits are divided by it.")
    group.add_argument("--greedy", action="store_true", help="Always take the most likely token (= --top_k 1).")
    group.add_argument("--seed", type=int, default=7, help="Seed of the sampling generator.")


@dataclass
class Generated:
    """``tokens``: the new ids of each batch row (prompt / start token and end token excluded);
    ``logits``: per step, the [batch_size x vocab_size] scores the choice was made from (raw, before
    temperature and filtering), when requested."""

    tokens: List[List[int]]
    logits: List[torch.Tensor] = field(default_factory=list)


def filter_logits(logits: torch.Tensor, top_k: int = 0, top_p: float = 0.0) -> torch.Tensor:
    """logits [batch_size x vocab_size] with the tokens outside top-k / the nucleus set to -inf."""
    blocked = torch.finfo(logits.dtype).min
    if top_k > 0 and top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, blocked)
    if 0.0 < top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        probs = torch.softmax(sorted_logits.float(), dim=-1)
        # Drop a token once the more likely ones already reach top_p; the best token always stays.
        drop_sorted = (probs.cumsum(dim=-1) - probs) >= top_p
        drop_sorted[..., 0] = False
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, blocked)
    return logits


def next_tokens(logits: torch.Tensor, sampling: Sampling, generator: Optional[torch.Generator] = None,
                banned: Sequence[int] = (PAD_ID,)) -> torch.Tensor:
    """Choose one token per row of logits [batch_size x vocab_size] -> [batch_size].

    ``banned`` ids (padding by default: it is never a training target) are never chosen.
    """
    logits = logits.float()
    if banned:
        logits = logits.clone()
        logits[:, list(banned)] = torch.finfo(logits.dtype).min
    if sampling.is_greedy:
        return logits.argmax(dim=-1)
    logits = filter_logits(logits / sampling.temperature, sampling.top_k, sampling.top_p)
    probs = torch.softmax(logits, dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)


def lm_output_layer(model: nn.Module) -> nn.Module:
    """The vocabulary projection of an ``lm``/``prefixlm`` target."""
    if not isinstance(model.target, LmTarget):
        raise UserInputError(f"language-model generation needs --target lm (or prefixlm), not "
                             f"'{type(model.target).__name__}'")
    return model.target.output_layer


def can_cache(model: nn.Module) -> bool:
    """True for a causal transformer encoder, which keeps a key/value cache."""
    return hasattr(model.encoder, "forward_cached") and getattr(model.encoder, "mask", None) == "causal"


@torch.inference_mode()
def generate_lm(model: nn.Module, prompt: Sequence[int], max_length: int, sampling: Sampling,
                use_cache: bool = True, generator: Optional[torch.Generator] = None,
                return_logits: bool = False, banned: Sequence[int] = (PAD_ID,),
                end_id: Optional[int] = None) -> Generated:
    """Continue ``prompt`` (ids, e.g. ``[CLS] tokens``) until the sequence holds ``max_length`` ids
    (or ``end_id`` is generated; it is not returned). ``banned`` ids are never generated.

    ``use_cache`` is honoured when :func:`can_cache`; otherwise every step recomputes the sequence.
    A prefix LM (``--mask causal_with_prefix``) sees the prompt as segment 1 (fully visible) and
    the continuation as segment 2 (causal), as it was trained. Returns one row of new ids.
    """
    if not prompt:
        raise ValueError("the prompt needs at least one token (e.g. [CLS])")
    output_layer = lm_output_layer(model)
    device = next(model.parameters()).device
    cached = use_cache and can_cache(model)
    prefix_lm = getattr(model.encoder, "mask", None) == "causal_with_prefix"
    tokens = torch.tensor([list(prompt)], dtype=torch.long, device=device)
    step_input, past, steps = tokens, None, []
    logits_per_step: List[torch.Tensor] = []
    for _ in range(max_length - len(prompt)):
        if cached:
            seg = torch.ones_like(step_input)
            start = past[0][0].size(2) if past else 0
            emb = model.embedding(step_input, seg, start_position=start)
            hidden, past = model.encoder.forward_cached(emb, seg, past, use_cache=True)
        else:
            seg = torch.ones_like(tokens)
            if prefix_lm:
                seg[:, len(prompt):] = 2
            hidden = model.encoder(model.embedding(tokens, seg), seg)
        logits = output_layer(hidden[:, -1])
        if return_logits:
            logits_per_step.append(logits.float().cpu())
        chosen = next_tokens(logits, sampling, generator, banned)
        steps.append(chosen)
        # Checking for the end token reads the choice back to the host: only when there is one.
        if end_id is not None and int(chosen[0]) == end_id:
            break
        step_input = chosen.view(1, 1)
        if not cached:
            tokens = torch.cat([tokens, step_input], dim=1)
    new = torch.cat(steps).tolist() if steps else []
    return Generated([new[:new.index(end_id)] if end_id in new else new], logits_per_step)


@torch.inference_mode()
def generate_seq2seq(model: nn.Module, src: torch.Tensor, seg: torch.Tensor, start_id: int, end_id: int,
                     max_length: int, sampling: Sampling, use_cache: bool = True,
                     generator: Optional[torch.Generator] = None, return_logits: bool = False,
                     banned: Sequence[int] = (PAD_ID,)) -> Generated:
    """Decode a batch of sources src/seg [batch_size x src_length] (seg 0 = padding).

    The decoder starts from ``start_id`` and a row stops at ``end_id`` or after ``max_length`` new
    tokens; the result holds each row's ids without the start and end tokens.
    """
    if not hasattr(model.target, "decode"):
        raise UserInputError(f"seq2seq generation needs --target seq2seq or t5, not '{type(model.target).__name__}'")
    batch_size = src.size(0)
    memory_bank = model.encode(src, seg)
    tgt = torch.full((batch_size, 1), start_id, dtype=torch.long, device=src.device)
    finished = torch.zeros(batch_size, dtype=torch.bool, device=src.device)
    step_input, past, steps = tgt, None, []
    logits_per_step: List[torch.Tensor] = []
    for _ in range(max_length):
        if use_cache:
            logits, past = model.target.decode(memory_bank, seg, step_input, None, past, use_cache=True)
        else:
            logits, _ = model.target.decode(memory_bank, seg, tgt)
        logits = logits[:, -1]
        if return_logits:
            logits_per_step.append(logits.float().cpu())
        # A finished row keeps decoding (the batch steps together); its later tokens are discarded.
        chosen = next_tokens(logits, sampling, generator, banned).masked_fill(finished, end_id)
        steps.append(chosen)
        finished |= chosen == end_id
        if bool(finished.all()):  # one host sync per step
            break
        step_input = chosen.view(batch_size, 1)
        tgt = torch.cat([tgt, step_input], dim=1)
    rows = torch.stack(steps, dim=1).tolist() if steps else [[] for _ in range(batch_size)]
    tokens = [row[:row.index(end_id)] if end_id in row else row for row in rows]
    return Generated(tokens, logits_per_step)


# The tensors a language model generates with.
LM_PARTS = ("embedding.", "encoder.", "target.output_layer.")


def lm_prompt(tokenizer: Any, text: str, prefix_lm: bool = False) -> List[str]:
    """``[CLS] tokens`` (GPT-2's vocab.json: ``<|endoftext|> tokens``); a prefix LM reads
    ``[CLS] prefix [SEP]`` and ends its target with ``[SEP]``."""
    return [CLS_TOKEN] + tokenizer.tokenize(text) + ([SEP_TOKEN] if prefix_lm else [])


def continue_prompt(model: nn.Module, tokenizer: Any, prompt: List[str], seq_length: int, sampling: Sampling,
                    tokenizer_name: str, use_cache: bool = True, seed: int = 7,
                    prefix_lm: bool = False) -> Tuple[str, int]:
    """The prompt (without its ``[CLS]``) and its continuation as text, and the number of tokens
    generated; behind scripts/generate_lm.py and ``uer.load(...).generate``."""
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed)
    result = generate_lm(model, tokenizer.convert_tokens_to_ids(prompt), seq_length, sampling, use_cache=use_cache,
                         generator=generator, banned=banned_ids(tokenizer.vocab),
                         end_id=tokenizer.vocab.w2i[SEP_TOKEN] if prefix_lm else None)
    tokens = prompt[1:] + tokenizer.convert_ids_to_tokens(result.tokens[0])
    return detokenize(tokens, tokenizer_name, tokenizer.vocab.sp_model is not None), len(result.tokens[0])


def banned_ids(vocab: Any) -> List[int]:
    """What a language model must never generate: padding, i.e. [PAD] (id 0 of our vocabularies,
    RoBERTa's ``<pad>``); a GPT-2 vocabulary has none (its id 0 is ``!``)."""
    pad = vocab.w2i.get(PAD_TOKEN)
    return [] if pad is None else [pad]


def detokenize(tokens: Sequence[str], tokenizer_name: str = "bert", sentencepiece: bool = False) -> str:
    """Join generated tokens into text: SentencePiece ``▁`` becomes a space, WordPiece ``##`` pieces
    glue to the previous token, ``space`` tokens are space-separated, ``char`` tokens concatenated;
    ``bpe`` tokens go back to their bytes; otherwise a space separates two ASCII words only (CJK text
    stays unspaced, as the original wrote)."""
    if tokenizer_name == "bpe":
        from uer.tokenizers.bpe import bpe_detokenize

        return bpe_detokenize(tokens)
    if sentencepiece:
        return "".join(tokens).replace(SPIECE_UNDERLINE, " ").strip()
    if tokenizer_name == "space":
        return " ".join(tokens)
    if tokenizer_name == "char":
        return "".join(tokens)
    text = ""
    for token in tokens:
        if token.startswith("##") and len(token) > 2 and text:
            text += token[2:]
        elif text and text[-1].isascii() and not text[-1].isspace() and token[:1].isascii() and token[:1].isalnum():
            text += " " + token
        else:
            text += token
    return text
