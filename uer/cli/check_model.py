"""Check that a checkpoint loads strictly into the model its options describe.

    python scripts/check_model.py --input_model_path models/google_zh_model.bin \
        --vocab_path models/google_zh_vocab.txt --config_path models/bert/base_config.json

Options come from the checkpoint's ``.config.json`` sidecar, then ``--config_path``, then typed
flags, except the target: the sidecar's (the head the checkpoint was trained with) wins over a
preset's (``models/bert/*.json`` say ``bert`` for an ``mlm`` checkpoint); only a typed ``--target``
overrides it. The report names the source of the target. Prints the tensors missing from the
checkpoint, those the model does not know and shape mismatches; exits with status 1 when there is
any, 0 when every tensor matches.
"""
import argparse
import logging
import sys
from typing import List, Optional, Set

from uer.model_builder import build_model
from uer.model_loader import read_checkpoint
from uer.model_tools import compare_keys
from uer.opts import DEFAULT_CONFIG, model_opts, tokenizer_opts
from uer.tokenizers.vocab import load_vocab_from_args
from uer.utils.cli import script_parser
from uer.utils.config import parse_args, saved_options, typed_dests
from uer.utils.errors import UserInputError, cli_main


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser(__doc__)
    parser.add_argument("--input_model_path", required=True, help="Checkpoint to check.")
    parser.add_argument("--config_path", default=DEFAULT_CONFIG)
    parser.add_argument("--tgt_vocab_path", default=None, help="Target vocabulary of a seq2seq model.")
    parser.add_argument("--tgt_spm_model_path", default=None)
    model_opts(parser)
    tokenizer_opts(parser)
    return parser


def vocab_sizes(args: argparse.Namespace):
    """From the vocabulary files when given, else from the sidecar (or a Hugging Face config.json)."""
    saved = saved_model_options(args.input_model_path)
    if args.vocab_path or args.spm_model_path:
        vocab_size = len(load_vocab_from_args(args))
    elif saved.get("vocab_size"):
        vocab_size = int(saved["vocab_size"])
    else:
        raise UserInputError("give --vocab_path (or --spm_model_path): the checkpoint has no .config.json "
                             "recording its vocabulary size", path=args.input_model_path)
    if args.tgt_vocab_path or args.tgt_spm_model_path:
        tgt_vocab_size = len(load_vocab_from_args(args, prefix="tgt_"))
    elif saved.get("tgt_vocab_size") and saved.get("tgt_vocab_size") != saved.get("vocab_size"):
        tgt_vocab_size = int(saved["tgt_vocab_size"])  # a seq2seq model with its own target vocabulary
    else:
        tgt_vocab_size = None  # the target side shares the source vocabulary
    return vocab_size, tgt_vocab_size


def saved_model_options(path: str) -> dict:
    """The sidecar's options, or a Hugging Face folder's, or {}."""
    found = saved_options(path)
    return found.values if found else {}


def target_source(args: argparse.Namespace, typed: Set[str]) -> str:
    """Which source sets the target checked; the sidecar's target wins over --config_path's."""
    if "target" in typed:
        return "typed --target"
    saved = saved_model_options(args.input_model_path).get("target")
    if saved:
        if saved != args.target:
            overridden = f"; --config_path {args.config_path} says {args.target}"
            args.target = saved
            return f"the checkpoint's sidecar{overridden}"
        return "the checkpoint's sidecar"
    return f"--config_path {args.config_path} (no sidecar records it)"


@cli_main
def main(argv: Optional[List[str]] = None) -> None:
    parser = build_parser()
    args = parse_args(parser, argv, model_path_attrs=("input_model_path",))
    source = target_source(args, typed_dests(parser, argv if argv is not None else sys.argv[1:]))
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    vocab_size, tgt_vocab_size = vocab_sizes(args)
    model = build_model(args, vocab_size, tgt_vocab_size)
    checkpoint = read_checkpoint(args.input_model_path)
    model_state = model.state_dict()
    check = compare_keys(model_state, checkpoint)
    print(f"checkpoint {args.input_model_path}: {len(checkpoint)} tensors; model "
          f"(embedding {args.embedding}, encoder {args.encoder}, target {args.target}, vocabulary {vocab_size}): "
          f"{len(model_state)} tensors")
    print(f"target {args.target} from {source}")
    for title, keys in (("missing from the checkpoint", check.missing),
                        ("unexpected (not in the model)", check.unexpected)):
        if keys:
            print(f"{title} ({len(keys)}):")
            print("".join(f"  {key}\n" for key in keys), end="")
    if check.mismatched:
        print(f"shape mismatches ({len(check.mismatched)}):")
        for key, found, expected in check.mismatched:
            print(f"  {key}: checkpoint {found}, model {expected}")
    if not check.ok:
        print("FAILED: the checkpoint does not match the model")
        sys.exit(1)
    model.load_state_dict(checkpoint, strict=True)
    print(f"OK: all {len(checkpoint)} tensors load strictly")


if __name__ == "__main__":
    main()
