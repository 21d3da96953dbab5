"""Continue a prompt with a language model (GPT-2, or an LSTM / GatedCNN LM).

    python scripts/generate_lm.py --load_model_path models/gpt2_model.bin \
        --vocab_path models/google_zh_vocab.txt --config_path models/gpt2/config.json \
        --test_path beginning.txt --prediction_path generated.txt --seq_length 128

The first line of ``--test_path`` is the prompt, encoded as ``[CLS] tokens``; tokens are added until
the sequence holds ``--seq_length`` tokens, chosen by top-k (``--top_k`` 70) / nucleus
(``--top_p``) sampling at ``--temperature``, or greedily (``--greedy`` or ``--top_k 1``). The
output has the prompt line, then the prompt and its continuation as text. A causal transformer
keeps a key/value cache, so each new token costs one step. A prefix LM (``--target prefixlm``,
``--mask causal_with_prefix``) reads ``[CLS] prompt [SEP]`` and stops at its next ``[SEP]``.
"""
import argparse
import logging
from typing import List, Optional

from uer.generation import LM_PARTS, Sampling, continue_prompt, lm_prompt, sampling_opts
from uer.model_tools import load_for_inference, set_option_default
from uer.opts import infer_opts
from uer.tokenizers import build_tokenizer
from uer.utils.cli import script_parser
from uer.utils.config import parse_args
from uer.utils.errors import UserInputError, cli_main
from uer.utils.textfile import atomic_write, iter_lines

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser(__doc__)
    infer_opts(parser)
    sampling_opts(parser)
    parser.add_argument("--no_cache", action="store_true", help="Recompute the whole sequence at each step.")
    set_option_default(parser, "target", "lm")
    return parser


def read_prompt(path: str) -> str:
    lines = list(iter_lines(path))
    if not lines:
        raise UserInputError("empty file: the first line must hold the prompt", path=path)
    if len(lines) > 1:
        logger.warning("%s: only the first line is the prompt; %d later lines are not used", path, len(lines) - 1)
    return lines[0][1]


@cli_main
def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(build_parser(), argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    sampling = Sampling.from_args(args)
    if args.embedding in ("word_pos", "word_pos_seg", "word_sinusoidalpos") and args.seq_length > args.max_seq_length:
        raise UserInputError(f"--seq_length {args.seq_length} exceeds the model's max_seq_length "
                             f"{args.max_seq_length} (rows of its position table)")
    tokenizer = build_tokenizer(args)
    prompt_text = read_prompt(args.test_path)
    prefix_lm = args.mask == "causal_with_prefix"
    prompt = lm_prompt(tokenizer, prompt_text, prefix_lm)
    if len(prompt) >= args.seq_length:
        raise UserInputError(f"the prompt is {len(prompt)} tokens long with [CLS]; --seq_length {args.seq_length} "
                             f"leaves no room to generate", path=args.test_path, line=1)
    model = load_for_inference(args, len(tokenizer.vocab), args.load_model_path, required=LM_PARTS)
    text, generated = continue_prompt(model, tokenizer, prompt, args.seq_length, sampling, args.tokenizer,
                                      use_cache=not args.no_cache, seed=args.seed, prefix_lm=prefix_lm)
    with atomic_write(args.prediction_path) as handle:
        handle.write(prompt_text + "\n" + text + "\n")
    print(f"generated {generated} tokens; written to {args.prediction_path}")


if __name__ == "__main__":
    main()
