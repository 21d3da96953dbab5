"""Adapt a checkpoint to a new vocabulary (e.g. one with added domain words).

    python scripts/dynamic_vocab_adapter.py --old_model_path models/google_zh_model.bin \
        --old_vocab_path models/google_zh_vocab.txt --new_vocab_path models/new_vocab.txt \
        --new_model_path models/new_model.bin

Rows of tokens present in both vocabularies are copied; a new token starts from the mean of the
rows of the pieces the old vocabulary splits it into (WordPiece), in the input embedding and in the
MLM / LM output layer (weight and bias). The sidecar ``.config.json`` is copied with the new size.
"""
import argparse
import logging
import os
from typing import List, Optional

from uer.model_loader import load_state_dict_file
from uer.model_saver import save_state_dict
from uer.model_tools import copy_sidecar, read_sidecar, word_embedding
from uer.tokenizers.vocab import Vocab
from uer.tokenizers.vocab_adapter import SOURCE_VOCAB_KEYS, TARGET_VOCAB_KEYS, adapt_state_dict
from uer.utils.cli import script_parser
from uer.utils.errors import UserInputError, cli_main


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser(__doc__)
    parser.add_argument("--old_model_path", required=True)
    parser.add_argument("--old_vocab_path", required=True)
    parser.add_argument("--new_vocab_path", required=True)
    parser.add_argument("--new_model_path", required=True)
    parser.add_argument("--do_lower_case", choices=["true", "false"], default="true",
                        help="Lower-case new tokens before splitting them with the old vocabulary.")
    return parser


@cli_main
def main(argv: Optional[List[str]] = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.new_model_path == args.old_model_path:
        raise UserInputError("--new_model_path must differ from --old_model_path", path=args.new_model_path)
    old_vocab, new_vocab = Vocab.load(args.old_vocab_path), Vocab.load(args.new_vocab_path)
    new_vocab.require_special_tokens("the adapted model")
    state_dict = load_state_dict_file(args.old_model_path)
    word_embedding(state_dict, args.old_model_path, len(old_vocab), args.old_vocab_path)  # rows == old vocab
    saved = read_sidecar(args.old_model_path)
    keys = SOURCE_VOCAB_KEYS + TARGET_VOCAB_KEYS
    own_target_vocab = saved.get("tgt_vocab_size") not in (None, saved.get("vocab_size"))
    if own_target_vocab:
        keys = SOURCE_VOCAB_KEYS  # a seq2seq target vocabulary is separate: leave the decoder side as it is
    new_state, report = adapt_state_dict(state_dict, old_vocab, new_vocab, keys, args.do_lower_case == "true")
    save_state_dict(new_state, args.new_model_path)
    updates = {"vocab_size": len(new_vocab), "vocab_files": {"vocab_path": os.path.abspath(args.new_vocab_path)}}
    if saved.get("tgt_vocab_size") is not None and not own_target_vocab:
        updates["tgt_vocab_size"] = len(new_vocab)
    copy_sidecar(args.old_model_path, args.new_model_path, updates)
    print(f"{report.summary()}\nwritten to {args.new_model_path}")


if __name__ == "__main__":
    main()
