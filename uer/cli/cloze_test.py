"""Cloze test: fill the blanks of each line with the masked language model's top-n guesses.

    python scripts/cloze_test.py --load_model_path models/google_zh_model.bin \
        --vocab_path models/google_zh_vocab.txt --test_path sentences.txt --prediction_path cloze.txt \
        --config_path models/bert/base_config.json --target mlm --topn 10

Each line is encoded as ``[CLS] tokens [SEP]``. A line with blanks typed as ``[MASK]``
(``这本书很[MASK]看``) has each of them filled, as transformers' fill-mask pipeline does: one
forward pass with every blank masked, the top-n of each blank. The output has the line, then
``Predicted answer: t1 t2 ...`` (best first) for a single blank or ``Predicted answer k: ...`` for
blank k of several, and a blank line. A line without ``[MASK]`` has one of its tokens (never
``[CLS]``/``[SEP]``, chosen with ``--seed``) masked and scored: the masked sentence,
``Predicted answer: ...``, ``Correct answer: t`` and a blank line; the closing summary counts how
often the answer is the first guess or among the top-n. ``--scores`` adds a ``Scores`` line after
each answer line: the guesses' probabilities, the scores of transformers' fill-mask pipeline.
"""
import argparse
import logging
import random
from typing import List, Optional

from uer.finetune.cloze import MLM_HEAD, fill_blanks, tokenize_keeping_masks
from uer.finetune.inputs import input_length
from uer.generation import detokenize
from uer.model_tools import load_for_inference
from uer.opts import infer_opts
from uer.tokenizers import build_tokenizer
from uer.utils.cli import script_parser
from uer.utils.config import parse_args
from uer.utils.constants import MASK_TOKEN
from uer.utils.errors import UserInputError, cli_main
from uer.utils.textfile import atomic_write, iter_lines


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser(__doc__)
    infer_opts(parser)
    parser.add_argument("--topn", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7, help="Chooses the masked positions.")
    parser.add_argument("--scores", action="store_true",
                        help="After each 'Predicted answer' line, a 'Scores' line: the probability of each guess "
                             "(softmax over the vocabulary, the score of transformers' fill-mask pipeline).")
    return parser


def score_line(probabilities: List[float], blank: Optional[int] = None) -> str:
    """``Scores[ k]: p1 p2 ...``, the guesses' probabilities in the order of the answer line."""
    return f"Scores{'' if blank is None else f' {blank}'}: {' '.join(f'{p:.8g}' for p in probabilities)}\n"


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
    rng = random.Random(args.seed)
    examples = []  # (tokens, masked positions in tokens, whether the user typed the blanks)
    for line_no, text in iter_lines(args.test_path):
        tokens = tokenize_keeping_masks(tokenizer, text)
        blanks = [i for i, token in enumerate(tokens) if token == MASK_TOKEN]
        if blanks and blanks[-1] >= seq_length - 2:
            raise UserInputError(f"a [MASK] is token {blanks[-1] + 1} of the line, beyond the {seq_length - 2} "
                                 f"tokens --seq_length {seq_length} leaves between [CLS] and [SEP]",
                                 path=args.test_path, line=line_no)
        tokens = tokens[:seq_length - 2]
        if not tokens:
            raise UserInputError("no token to mask on this line", path=args.test_path, line=line_no)
        examples.append((tokens, blanks, True) if blanks else (tokens, [rng.randrange(len(tokens))], False))
    if not examples:
        raise UserInputError("empty file: expected one sentence per line", path=args.test_path)

    blocks, hits_1, hits_n, scored, filled = [], 0, 0, 0, 0
    sp = vocab.sp_model is not None
    guesses = fill_blanks(model, tokenizer, [(tokens, blanks) for tokens, blanks, _ in examples], args.batch_size,
                          args.topn)
    for (tokens, blanks, typed), found in zip(examples, guesses):
        predicted = [tokenizer.convert_ids_to_tokens(ids) for ids, _ in found]
        if typed:
            filled += len(blanks)
            answers = [f"Predicted answer{'' if len(blanks) == 1 else f' {k}'}: {' '.join(words)}\n"
                       + (score_line(scores, k if len(blanks) > 1 else None) if args.scores else "")
                       for k, (words, (_, scores)) in enumerate(zip(predicted, found), 1)]
            blocks.append(f"{detokenize(tokens, args.tokenizer, sp)}\n{''.join(answers)}\n")
            continue
        position, words = blanks[0], predicted[0]
        shown = tokens[:position] + [MASK_TOKEN] + tokens[position + 1:]
        scored += 1
        hits_1 += words[0] == tokens[position]
        hits_n += tokens[position] in words
        blocks.append(f"{detokenize(shown, args.tokenizer, sp)}\nPredicted answer: {' '.join(words)}\n"
                      + (score_line(found[0][1]) if args.scores else "")
                      + f"Correct answer: {tokens[position]}\n\n")
    with atomic_write(args.prediction_path) as handle:
        handle.write("".join(blocks))
    summary = f"{len(examples)} sentences"
    if filled:
        summary += f": {filled} typed [MASK] filled in {len(examples) - scored}"
    if scored:
        summary += f"{';' if filled else ':'} {scored} randomly masked, top-1 correct {hits_1}, " \
                   f"top-{args.topn} correct {hits_n}"
    print(f"{summary}; written to {args.prediction_path}")


if __name__ == "__main__":
    main()
