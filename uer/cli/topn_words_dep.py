"""Context-dependent nearest words: put each candidate at the target word's place in a sentence and
rank the candidates by the cosine similarity of the encoder's output there.

    python scripts/topn_words_dep.py --load_model_path models/google_zh_model.bin \
        --vocab_path models/google_zh_vocab.txt --cand_vocab_path models/google_zh_vocab.txt \
        --test_path target_words_with_sentences.txt --config_path models/bert/base_config.json

``--test_path`` lines are ``word<TAB>sentence``; the word must be one token of the vocabulary and
occur in the sentence (its first occurrence is used). Candidates are the tokens of
``--cand_vocab_path`` found in the model's vocabulary (default: every non-special token); they go
through the encoder ``--batch_size`` sentences at a time, and a transformer's last layer is computed
at the target position only. Output
per line: ``Sentence: ...``, ``Target: word``, ``token<TAB>similarity`` lines, a blank line.
"""
import argparse
import logging
import sys
from typing import List, Optional

import torch

from uer.finetune.inputs import input_length
from uer.model_tools import load_for_inference
from uer.opts import DEFAULT_CONFIG, model_opts, tokenizer_opts
from uer.tokenizers import build_tokenizer
from uer.tokenizers.vocab import Vocab
from uer.utils.cli import script_parser
from uer.utils.config import parse_args
from uer.utils.constants import CLS_TOKEN, SEP_TOKEN, SPECIAL_TOKENS
from uer.utils.errors import UserInputError, cli_main
from uer.utils.textfile import atomic_write, iter_lines

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser(__doc__)
    parser.add_argument("--load_model_path", required=True)
    parser.add_argument("--cand_vocab_path", default=None, help="Candidate tokens, one per line.")
    parser.add_argument("--test_path", required=True, help="word<TAB>sentence per line.")
    parser.add_argument("--prediction_path", default=None, help="Output file (default: stdout).")
    parser.add_argument("--config_path", default=DEFAULT_CONFIG)
    model_opts(parser)
    tokenizer_opts(parser)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--seq_length", type=int, default=128)
    parser.add_argument("--topn", type=int, default=15)
    return parser


def candidate_ids(args: argparse.Namespace, vocab: Vocab) -> List[int]:
    if not args.cand_vocab_path:
        return [i for i, token in enumerate(vocab.i2w) if token not in SPECIAL_TOKENS]
    tokens = Vocab.load(args.cand_vocab_path).i2w
    unknown = [token for token in tokens if token not in vocab.w2i]
    if unknown:
        logger.warning("%s: %d candidates are not in the model's vocabulary and are left out (e.g. %s)",
                       args.cand_vocab_path, len(unknown), " ".join(unknown[:5]))
    ids = list(dict.fromkeys(vocab.w2i[token] for token in tokens if token in vocab.w2i))
    if not ids:
        raise UserInputError("no candidate is in the model's vocabulary", path=args.cand_vocab_path)
    return ids


def parse_line(tokenizer, text: str, path: str, line_no: int, seq_length: int):
    """``word<TAB>sentence`` -> (word, word id, ids [CLS] sentence [SEP], position of the word)."""
    if "\t" not in text:
        raise UserInputError("expected word<TAB>sentence", path=path, line=line_no)
    word, sentence = text.split("\t", 1)
    word_tokens = tokenizer.tokenize(word.strip())
    if len(word_tokens) != 1 or word_tokens[0] not in tokenizer.vocab.w2i:
        raise UserInputError(f"the target word '{word}' is not one token of the vocabulary "
                             f"(tokenized as {word_tokens})", path=path, line=line_no)
    tokens = [CLS_TOKEN] + tokenizer.tokenize(sentence)[:seq_length - 2] + [SEP_TOKEN]
    if word_tokens[0] not in tokens[1:-1]:
        raise UserInputError(f"the target word '{word}' does not occur in the sentence (within --seq_length "
                             f"{seq_length} tokens)", path=path, line=line_no)
    ids = tokenizer.convert_tokens_to_ids(tokens)
    return word, tokenizer.vocab.w2i[word_tokens[0]], sentence, ids, tokens.index(word_tokens[0], 1)


@cli_main
def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(build_parser(), argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.topn < 1 or args.batch_size < 1:
        raise UserInputError("--topn and --batch_size must be at least 1")
    seq_length = input_length(args)
    tokenizer = build_tokenizer(args)
    vocab = tokenizer.vocab
    candidates = candidate_ids(args, vocab)
    model = load_for_inference(args, len(vocab), args.load_model_path, backbone_only=True)
    device = next(model.parameters()).device

    encoder = model["encoder"]

    def encode_at(src: torch.Tensor, position: int) -> torch.Tensor:
        seg = torch.ones_like(src)
        emb = model["embedding"](src, seg)
        if hasattr(encoder, "forward_at"):  # a transformer's last layer works at the scored position only
            return encoder.forward_at(emb, seg, [position])[:, 0]
        return encoder(emb, seg)[:, position]

    blocks = []
    with torch.inference_mode():
        for line_no, text in iter_lines(args.test_path):
            if not text.strip():
                continue
            word, word_id, sentence, ids, position = parse_line(tokenizer, text, args.test_path, line_no,
                                                                seq_length)
            src = torch.tensor([ids], device=device)
            reference = encode_at(src, position)
            scores = []
            for start in range(0, len(candidates), args.batch_size):
                chunk = torch.tensor(candidates[start:start + args.batch_size], device=device)
                batch = src.repeat(len(chunk), 1)
                batch[:, position] = chunk
                scores.append(torch.cosine_similarity(encode_at(batch, position), reference, dim=-1))
            scores = torch.cat(scores).float().cpu()
            order = [i for i in scores.argsort(descending=True).tolist() if candidates[i] != word_id][:args.topn]
            lines = "".join(f"{vocab.i2w[candidates[i]]}\t{scores[i].item():.4f}\n" for i in order)
            blocks.append(f"Sentence: {sentence}\nTarget: {word}\n{lines}\n")
    if not blocks:
        raise UserInputError("no line to process: expected word<TAB>sentence lines", path=args.test_path)
    if args.prediction_path:
        with atomic_write(args.prediction_path) as handle:
            handle.write("".join(blocks))
    else:
        sys.stdout.write("".join(blocks))


if __name__ == "__main__":
    main()
