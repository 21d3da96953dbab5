"""Compare two vocabularies: their sizes, their intersection and what each has that the other lacks.

    python scripts/diff_vocab.py --vocab_1 models/google_zh_vocab.txt --vocab_2 demo_data/vocab.txt
"""
import argparse
from typing import List, Optional

from uer.tokenizers.vocab import Vocab
from uer.utils.cli import script_parser
from uer.utils.errors import cli_main


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser(__doc__)
    parser.add_argument("--vocab_1", required=True, help="First vocabulary file.")
    parser.add_argument("--vocab_2", required=True, help="Second vocabulary file.")
    parser.add_argument("--show", type=int, default=0,
                        help="Also list up to this many tokens of each difference (in file order).")
    return parser


@cli_main
def main(argv: Optional[List[str]] = None) -> None:
    args = build_parser().parse_args(argv)
    tokens_1, tokens_2 = Vocab.load(args.vocab_1).i2w, Vocab.load(args.vocab_2).i2w
    set_1, set_2 = set(tokens_1), set(tokens_2)
    only_1 = [token for token in tokens_1 if token not in set_2]
    only_2 = [token for token in tokens_2 if token not in set_1]
    print(f"vocab_1 size: {len(tokens_1)}" + _duplicates(tokens_1, set_1))
    print(f"vocab_2 size: {len(tokens_2)}" + _duplicates(tokens_2, set_2))
    print(f"intersection: {len(set_1 & set_2)}")
    print(f"vocab_1 - vocab_2: {len(set(only_1))}")
    print(f"vocab_2 - vocab_1: {len(set(only_2))}")
    if args.show > 0:
        print("only in vocab_1: " + " ".join(list(dict.fromkeys(only_1))[:args.show]))
        print("only in vocab_2: " + " ".join(list(dict.fromkeys(only_2))[:args.show]))


def _duplicates(tokens: List[str], unique: set) -> str:
    extra = len(tokens) - len(unique)
    return f" ({len(unique)} distinct, {extra} duplicate line(s))" if extra else ""


if __name__ == "__main__":
    main()
