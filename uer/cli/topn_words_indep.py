"""Context-independent nearest words: cosine similarity of input word embeddings.

    python scripts/topn_words_indep.py --load_model_path models/google_zh_model.bin \
        --vocab_path models/google_zh_vocab.txt --test_path words.txt --topn 15

``--test_path`` holds one word per line (blank lines are skipped). For each word the output has
``Target: word``, then ``token<TAB>similarity`` lines (best first, the word itself excluded), then a
blank line; it goes to stdout, or to ``--prediction_path`` when given.
"""
import argparse
import logging
import sys
from typing import List, Optional

from uer.model_loader import read_checkpoint
from uer.model_tools import nearest, word_embedding
from uer.tokenizers.vocab import load_vocab_from_args
from uer.utils.cli import script_parser
from uer.utils.errors import UserInputError, cli_main
from uer.utils.textfile import atomic_write, iter_lines

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser(__doc__)
    parser.add_argument("--load_model_path", required=True, help="A checkpoint or a Hugging Face model folder.")
    parser.add_argument("--vocab_path", default=None)
    parser.add_argument("--spm_model_path", default=None, help="SentencePiece model (replaces --vocab_path).")
    parser.add_argument("--test_path", required=True, help="One word per line.")
    parser.add_argument("--topn", type=int, default=15)
    parser.add_argument("--prediction_path", default=None, help="Output file (default: stdout).")
    return parser


@cli_main
def main(argv: Optional[List[str]] = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.topn < 1:
        raise UserInputError(f"--topn must be at least 1, got {args.topn}")
    vocab = load_vocab_from_args(args)
    matrix = word_embedding(read_checkpoint(args.load_model_path), args.load_model_path, len(vocab),
                            args.spm_model_path or args.vocab_path)
    words = [(line_no, text.strip()) for line_no, text in iter_lines(args.test_path) if text.strip()]
    if not words:
        raise UserInputError("no word to look up: expected one word per line", path=args.test_path)
    known = [(line_no, word) for line_no, word in words if word in vocab.w2i]
    for line_no, word in words:
        if word not in vocab.w2i:
            logger.warning("%s:%d: '%s' is not in the vocabulary", args.test_path, line_no, word)
    ids = [vocab.w2i[word] for _, word in known]
    neighbours, scores = nearest(matrix, matrix[ids], args.topn, exclude=ids) if ids else (None, None)
    blocks, row = [], 0
    for _, word in words:
        if word not in vocab.w2i:
            blocks.append(f"Target: {word}\n(not in the vocabulary)\n\n")
            continue
        lines = "".join(f"{vocab.i2w[i]}\t{s:.4f}\n" for i, s in zip(neighbours[row].tolist(), scores[row].tolist()))
        blocks.append(f"Target: {word}\n{lines}\n")
        row += 1
    if args.prediction_path:
        with atomic_write(args.prediction_path) as handle:
            handle.write("".join(blocks))
    else:
        sys.stdout.write("".join(blocks))


if __name__ == "__main__":
    main()
