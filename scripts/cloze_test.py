"""Cloze test: mask one random token of each line and list the masked language model's top-n guesses.

    python scripts/cloze_test.py --load_model_path models/google_zh_model.bin \
        --vocab_path models/google_zh_vocab.txt --test_path sentences.txt --prediction_path cloze.txt \
        --config_path models/bert/base_config.json --target mlm --topn 10

Each line is encoded as ``[CLS] tokens [SEP]`` and one of its tokens (never ``[CLS]``/``[SEP]``,
chosen with ``--seed``) is replaced by ``[MASK]``. The output has, per line, the masked sentence,
``Predicted answer: t1 t2 ...`` (best first), ``Correct answer: t`` and a blank line.
"""
import argparse
import logging
import random
from typing import List, Optional

import torch

from uer.finetune.inputs import input_length
from uer.generation import detokenize
from uer.opts import infer_opts
from uer.utils.config import parse_args
from uer.utils.constants import CLS_TOKEN, MASK_TOKEN, PAD_ID, SEP_TOKEN
from uer.utils.errors import UserInputError, cli_main
from uer.utils.model_tools import load_for_inference
from uer.utils.textfile import atomic_write, iter_lines
from uer.utils.tokenizers import build_tokenizer

MLM_HEAD = ("embedding.", "encoder.", "target.mlm_linear_1.", "target.layer_norm.", "target.mlm_linear_2.")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    infer_opts(parser)
    parser.add_argument("--topn", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7, help="Chooses the masked positions.")
    return parser


@cli_main
def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(build_parser(), argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.topn < 1 or args.batch_size < 1:
        raise UserInputError("--topn and --batch_size must be at least 1")
    seq_length = input_length(args)
    tokenizer = build_tokenizer(args)
    vocab = tokenizer.vocab
    model = load_for_inference(args, len(vocab), args.load_model_path, required=MLM_HEAD)
    if not hasattr(model.target, "mlm_logits"):
        raise UserInputError(f"the cloze test needs a masked language model (--target mlm, bert or albert), "
                             f"not --target {args.target}")
    device = next(model.parameters()).device
    rng = random.Random(args.seed)
    examples = []  # (tokens, masked position in tokens)
    for line_no, text in iter_lines(args.test_path):
        tokens = tokenizer.tokenize(text)[:seq_length - 2]
        if not tokens:
            raise UserInputError("no token to mask on this line", path=args.test_path, line=line_no)
        examples.append((tokens, rng.randrange(len(tokens))))
    if not examples:
        raise UserInputError("empty file: expected one sentence per line", path=args.test_path)

    blocks, hits_1, hits_n = [], 0, 0
    with torch.inference_mode():
        for start in range(0, len(examples), args.batch_size):
            chunk = examples[start:start + args.batch_size]
            width = max(len(tokens) for tokens, _ in chunk) + 2
            src = torch.full((len(chunk), width), PAD_ID, dtype=torch.long)
            seg = torch.zeros_like(src)
            for row, (tokens, position) in enumerate(chunk):
                masked = [CLS_TOKEN] + tokens + [SEP_TOKEN]
                masked[position + 1] = MASK_TOKEN
                src[row, :len(masked)] = torch.tensor(tokenizer.convert_tokens_to_ids(masked))
                seg[row, :len(masked)] = 1
            src, seg = src.to(device), seg.to(device)
            hidden = model.encode(src, seg)
            rows = torch.arange(len(chunk), device=device)
            positions = torch.tensor([position + 1 for _, position in chunk], device=device)
            top = model.target.mlm_logits(hidden[rows, positions]).topk(min(args.topn, len(vocab)), dim=-1)
            for (tokens, position), ids in zip(chunk, top.indices.tolist()):
                predicted = tokenizer.convert_ids_to_tokens(ids)
                shown = tokens[:position] + [MASK_TOKEN] + tokens[position + 1:]
                hits_1 += predicted[0] == tokens[position]
                hits_n += tokens[position] in predicted
                blocks.append(f"{detokenize(shown, args.tokenizer, vocab.sp_model is not None)}\n"
                              f"Predicted answer: {' '.join(predicted)}\nCorrect answer: {tokens[position]}\n\n")
    with atomic_write(args.prediction_path) as handle:
        handle.write("".join(blocks))
    print(f"{len(examples)} sentences: top-1 correct {hits_1}, top-{args.topn} correct {hits_n}; "
          f"written to {args.prediction_path}")


if __name__ == "__main__":
    main()
