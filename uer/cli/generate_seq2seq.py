"""Generate a target sequence for every source line with a seq2seq model (transformer seq2seq, T5).

    python scripts/generate_seq2seq.py --load_model_path models/t5_model.bin \
        --vocab_path models/google_zh_with_sentinel_vocab.txt --config_path models/t5/small_config.json \
        --test_path sources.txt --prediction_path predictions.txt --tgt_seq_length 64 --greedy

Each line of ``--test_path`` is one source, encoded as ``[CLS] tokens [SEP]`` (at most
``--seq_length``); the decoder starts from ``[CLS]`` and stops at ``[SEP]`` or after
``--tgt_seq_length`` tokens, reusing its key/value cache at every step. Tokens are chosen greedily
(``--greedy`` / ``--top_k 1``) or sampled (``--top_k``, ``--top_p``, ``--temperature``, ``--seed``).
``--tgt_vocab_path`` / ``--tgt_spm_model_path`` give a separate target vocabulary. The output has
one line per source line. The original ``generate_mt.py`` flags ``--pretrained_model_path``,
``--input_path`` and ``--translation_path`` are accepted too, and so are its subword flags with
their default ``--subword_type none`` (``--subencoder_type``, ``--sub_vocab_path`` then do nothing).
"""
import argparse
import logging
from argparse import Namespace
from typing import List, Optional

import torch

from uer.generation import Sampling, detokenize, generate_seq2seq, sampling_opts
from uer.model_tools import load_for_inference, set_option_default
from uer.opts import DEFAULT_CONFIG, model_opts, tokenizer_opts
from uer.tokenizers import TOKENIZERS, build_tokenizer
from uer.utils.cli import script_parser
from uer.utils.config import parse_args
from uer.utils.constants import CLS_TOKEN, PAD_ID, SEP_TOKEN
from uer.utils.errors import UserInputError, cli_main
from uer.utils.textfile import atomic_write, iter_lines

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser(__doc__)
    paths = parser.add_argument_group("paths")
    paths.add_argument("--load_model_path", "--pretrained_model_path", dest="load_model_path", required=True)
    paths.add_argument("--test_path", "--input_path", dest="test_path", required=True, help="One source per line.")
    paths.add_argument("--prediction_path", "--translation_path", dest="prediction_path", required=True)
    paths.add_argument("--config_path", default=DEFAULT_CONFIG)
    model_opts(parser)
    tokenizer_opts(parser)
    target = parser.add_argument_group("target side")
    target.add_argument("--tgt_vocab_path", default=None, help="Target vocabulary (default: the source one).")
    target.add_argument("--tgt_spm_model_path", default=None)
    target.add_argument("--tgt_merges_path", default=None, help="--tgt_tokenizer bpe: the target merges.txt.")
    target.add_argument("--tgt_tokenizer", choices=TOKENIZERS.names(), default=None, help="Default: --tokenizer.")
    target.add_argument("--tgt_seq_length", type=int, default=128, help="Most tokens generated per source.")
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--seq_length", type=int, default=128)
    sampling_opts(parser)
    parser.add_argument("--no_cache", action="store_true", help="Recompute the decoder over all tokens each step.")
    # The original generate_mt.py's subword flags. Its default, --subword_type none, builds word
    # embeddings without subword encoders, which is what every model here is; the other two flags
    # only configure those encoders, so with none they change nothing and are accepted for its commands.
    subword = parser.add_argument_group("the original generate_mt.py's subword options (no effect with none)")
    subword.add_argument("--subword_type", default="none",
                         help="Only none: models here have no subword (character) encoders of words.")
    subword.add_argument("--subencoder_type", "--subencoder", dest="subencoder_type", default="avg",
                         choices=["avg", "lstm", "gru", "cnn"], help="Ignored: subword encoders are off (none).")
    subword.add_argument("--sub_vocab_path", default=None, help="Ignored: subword encoders are off (none).")
    set_option_default(parser, "target", "seq2seq")
    return parser


def check_lengths(args: Namespace):
    """(source length, target length) limits, cut to what a learned position table holds."""
    if args.batch_size < 1 or args.seq_length < 3 or args.tgt_seq_length < 1:
        raise UserInputError("--batch_size and --tgt_seq_length must be at least 1, --seq_length at least 3")
    seq_length, tgt_seq_length = args.seq_length, args.tgt_seq_length
    positional = ("word_pos", "word_pos_seg", "word_sinusoidalpos")
    if args.embedding in positional and seq_length > args.max_seq_length:
        logger.info("sources longer than max_seq_length %d tokens are cut (--seq_length %d)", args.max_seq_length,
                    seq_length)
        seq_length = args.max_seq_length
    if args.tgt_embedding in positional and tgt_seq_length + 1 > args.max_seq_length:
        logger.info("at most %d tokens are generated: the decoder's positions end at max_seq_length %d",
                       args.max_seq_length - 1, args.max_seq_length)
        tgt_seq_length = args.max_seq_length - 1
    return seq_length, tgt_seq_length


@cli_main
def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(build_parser(), argv)
    if args.subword_type != "none":
        raise UserInputError(f"--subword_type {args.subword_type} is not supported: no model here has subword "
                             f"encoders, so only the original's default, none, is accepted")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    seq_length, tgt_seq_length = check_lengths(args)
    sampling = Sampling.from_args(args)
    tokenizer = build_tokenizer(args)
    tgt_args = Namespace(**{**vars(args), "tgt_tokenizer": args.tgt_tokenizer or args.tokenizer})
    separate = bool(args.tgt_vocab_path or args.tgt_spm_model_path)
    tgt_tokenizer = build_tokenizer(tgt_args, prefix="tgt_") if separate else tokenizer
    tgt_vocab = tgt_tokenizer.vocab
    model = load_for_inference(args, len(tokenizer.vocab), args.load_model_path, tgt_vocab_size=len(tgt_vocab))
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(args.seed)

    cls_id, sep_id = tokenizer.vocab.w2i[CLS_TOKEN], tokenizer.vocab.w2i[SEP_TOKEN]
    sources, truncated = [], 0
    for _, text in iter_lines(args.test_path):
        ids = tokenizer.encode(text)
        truncated += len(ids) > seq_length - 2
        sources.append([cls_id] + ids[:seq_length - 2] + [sep_id])
    if not sources:
        raise UserInputError("empty file: expected one source per line", path=args.test_path)
    if truncated:
        logger.warning("%d sources were cut to %d tokens", truncated, seq_length)

    outputs = []
    for start in range(0, len(sources), args.batch_size):
        chunk = sources[start:start + args.batch_size]
        src = torch.full((len(chunk), max(map(len, chunk))), PAD_ID, dtype=torch.long)
        seg = torch.zeros_like(src)
        for row, ids in enumerate(chunk):
            src[row, :len(ids)] = torch.tensor(ids)
            seg[row, :len(ids)] = 1
        result = generate_seq2seq(model, src.to(device), seg.to(device), tgt_vocab.w2i[CLS_TOKEN],
                                  tgt_vocab.w2i[SEP_TOKEN], tgt_seq_length, sampling,
                                  use_cache=not args.no_cache, generator=generator)
        for ids in result.tokens:
            tokens = tgt_tokenizer.convert_ids_to_tokens(ids)
            outputs.append(detokenize(tokens, tgt_args.tgt_tokenizer, tgt_vocab.sp_model is not None))
    with atomic_write(args.prediction_path) as handle:
        handle.write("".join(text.replace("\n", " ") + "\n" for text in outputs))
    print(f"generated {len(outputs)} sequences; written to {args.prediction_path}")


if __name__ == "__main__":
    main()
