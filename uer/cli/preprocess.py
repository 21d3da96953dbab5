"""Turn a text corpus into a pre-training dataset file for pretrain.py.

    python3 preprocess.py --corpus_path corpora/book_review_bert.txt --vocab_path models/google_zh_vocab.txt \
        --dataset_path dataset.pt --processes_num 8 --target bert
"""
import argparse
import logging
from typing import List, Optional

from uer.data.pipeline import preprocess
from uer.data.processors import DATA_PROCESSORS
from uer.tokenizers import TOKENIZERS
from uer.utils.cli import script_parser
from uer.utils.errors import UserInputError, cli_main


def str2bool(value: str) -> bool:
    lowered = value.lower()
    if lowered in ("1", "true", "yes", "y"):
        return True
    if lowered in ("0", "false", "no", "n"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got '{value}'")


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser(__doc__)
    paths = parser.add_argument_group("paths")
    paths.add_argument("--corpus_path", required=True, help="The text corpus (UTF-8).")
    paths.add_argument("--dataset_path", default="dataset.pt", help="The dataset file to write.")
    paths.add_argument("--vocab_path", default=None)
    paths.add_argument("--spm_model_path", default=None, help="SentencePiece model (its pieces are the vocabulary).")
    paths.add_argument("--tgt_vocab_path", default=None, help="seq2seq: target-side vocabulary.")
    paths.add_argument("--tgt_spm_model_path", default=None, help="seq2seq: target-side SentencePiece model.")
    paths.add_argument("--merges_path", default=None, help="--tokenizer bpe: the merges.txt of the vocab.json.")
    paths.add_argument("--tgt_merges_path", default=None, help="--tgt_tokenizer bpe: target-side merges.txt.")

    tokens = parser.add_argument_group("tokenization")
    tokens.add_argument("--tokenizer", choices=TOKENIZERS.names(), default="bert")
    tokens.add_argument("--tgt_tokenizer", choices=TOKENIZERS.names(), default="bert")
    tokens.add_argument("--do_lower_case", type=str2bool, default=True,
                        help="bert tokenizer: lower-case and strip accents (default true).")
    tokens.add_argument("--tgt_do_lower_case", type=str2bool, default=True)

    build = parser.add_argument_group("instances")
    build.add_argument("--target", choices=DATA_PROCESSORS.names(), default=None,
                       help="Which pre-training target the instances are for (default bert).")
    build.add_argument("--data_processor", choices=DATA_PROCESSORS.names(), default=None,
                       help="Another name for --target.")
    build.add_argument("--processes_num", type=int, default=1, help="Worker processes.")
    build.add_argument("--seq_length", type=int, default=128)
    build.add_argument("--tgt_seq_length", type=int, default=128, help="seq2seq: target length.")
    build.add_argument("--dup_factor", type=int, default=5, help="Passes over the corpus for random targets.")
    build.add_argument("--short_seq_prob", type=float, default=0.1,
                       help="bert/albert: chance of a short target length.")
    build.add_argument("--full_sentences", action="store_true", help="mlm/t5: fill instances across lines.")
    build.add_argument("--docs_buffer_size", type=int, default=100000,
                       help="Documents held at once (NSP negatives, dup passes, full-sentence blocks).")
    build.add_argument("--seed", type=int, default=7)

    masking = parser.add_argument_group("masking")
    masking.add_argument("--dynamic_masking", action="store_true", help="Mask in the loader (forces dup_factor 1).")
    masking.add_argument("--whole_word_masking", action="store_true", help="Mask whole Chinese words (needs jieba).")
    masking.add_argument("--span_masking", action="store_true", help="Mask spans of geometric length (SpanBERT).")
    masking.add_argument("--span_geo_prob", type=float, default=0.2)
    masking.add_argument("--span_max_length", type=int, default=10)
    parser.add_argument("--no_progress", action="store_true", help="No progress bar on stderr.")
    return parser


def resolve_target(args: argparse.Namespace) -> None:
    if args.target and args.data_processor and args.target != args.data_processor:
        raise UserInputError(f"--target {args.target} and --data_processor {args.data_processor} disagree "
                             f"(they are two names of one option)")
    args.target = args.target or args.data_processor or "bert"
    args.data_processor = args.target


@cli_main
def main(argv: Optional[List[str]] = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    args = build_parser().parse_args(argv)
    resolve_target(args)
    preprocess(args, progress=not args.no_progress)


if __name__ == "__main__":
    main()
