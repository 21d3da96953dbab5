"""Write a model's input word embeddings in word2vec text format.

    python scripts/extract_embeddings.py --load_model_path models/google_zh_model.bin \
        --vocab_path models/google_zh_vocab.txt --word_embedding_path embeddings.txt

The output starts with ``V E`` (tokens, dimensions), then one ``token v1 ... vE`` line per token in
vocabulary order; gensim's ``KeyedVectors.load_word2vec_format(path)`` reads it. A SentencePiece
model (``--spm_model_path``) gives the pieces instead of a vocabulary file.
"""
import argparse
import logging
from typing import List, Optional

from uer.model_loader import read_checkpoint
from uer.model_tools import word_embedding, write_word2vec
from uer.tokenizers.vocab import load_vocab_from_args
from uer.utils.cli import script_parser
from uer.utils.errors import cli_main


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser(__doc__)
    parser.add_argument("--load_model_path", required=True,
                        help="Checkpoint holding embedding.word_embedding.weight, or a Hugging Face model folder.")
    parser.add_argument("--vocab_path", default=None, help="Vocabulary the model was trained with.")
    parser.add_argument("--spm_model_path", default=None, help="SentencePiece model (replaces --vocab_path).")
    parser.add_argument("--word_embedding_path", required=True, help="Output file (word2vec text format).")
    return parser


@cli_main
def main(argv: Optional[List[str]] = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    vocab = load_vocab_from_args(args)
    matrix = word_embedding(read_checkpoint(args.load_model_path), args.load_model_path, len(vocab),
                            args.spm_model_path or args.vocab_path)
    written = write_word2vec(args.word_embedding_path, vocab.i2w, matrix)
    print(f"wrote {written} embeddings of size {matrix.size(1)} to {args.word_embedding_path}")


if __name__ == "__main__":
    main()
