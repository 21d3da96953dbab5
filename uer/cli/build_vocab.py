"""Build a vocabulary from a corpus: BERT's special tokens first, then tokens by frequency.

    python scripts/build_vocab.py --corpus_path corpora/book_review.txt \
        --vocab_path models/book_review_vocab.txt --tokenizer char --workers_num 2
"""
import argparse
import logging
from typing import List, Optional

from uer.tokenizers.vocab_builder import BUILD_TOKENIZERS, build_vocab
from uer.utils.cli import script_parser
from uer.utils.errors import UserInputError, cli_main


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser(__doc__)
    parser.add_argument("--corpus_path", required=True, nargs="+",
                        help="UTF-8 corpus file(s), tokenized line by line.")
    parser.add_argument("--vocab_path", required=True, help="Output vocabulary, one token a line.")
    parser.add_argument("--tokenizer", choices=BUILD_TOKENIZERS, default="space",
                        help="How a line is split: char = every character, space = on single spaces "
                             "(the char/space tokenizers; bert's WordPiece needs an existing vocabulary).")
    parser.add_argument("--workers_num", type=int, default=1, help="Processes counting tokens.")
    parser.add_argument("--min_count", type=int, default=1, help="Keep tokens seen at least this often.")
    parser.add_argument("--max_size", type=int, default=None,
                        help="Cap on the vocabulary size, special tokens included.")
    parser.add_argument("--unused_num", type=int, default=0,
                        help="Reserve this many [unused<i>] slots after the special tokens.")
    return parser


@cli_main
def main(argv: Optional[List[str]] = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    if args.min_count < 1:
        raise UserInputError(f"--min_count must be >= 1, got {args.min_count}")
    if args.unused_num < 0:
        raise UserInputError(f"--unused_num must be >= 0, got {args.unused_num}")
    tokens = build_vocab(args.corpus_path, args.vocab_path, args.tokenizer, args.workers_num,
                         args.min_count, args.max_size, args.unused_num)
    print(f"vocabulary of {len(tokens)} tokens written to {args.vocab_path}")


if __name__ == "__main__":
    main()
