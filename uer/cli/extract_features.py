"""Sentence vectors: encode each line of --test_path as ``[CLS] text [SEP]``, pool, and save a
float tensor [N x hidden_size] (one row per line, in file order) with ``torch.save``.

Optional BERT-whitening (Su et al., 2021) reduces the vectors to --whitening_size dimensions.
"""
import logging
from typing import List, Optional

import torch

from uer.finetune.features import sentence_vectors
from uer.finetune.inputs import PairEncoder, input_length, pair_dataset
from uer.model_saver import atomic_write
from uer.model_tools import load_for_inference
from uer.opts import infer_opts
from uer.tokenizers import build_tokenizer
from uer.utils.cli import script_parser
from uer.utils.config import parse_args
from uer.utils.errors import UserInputError, cli_main
from uer.utils.textfile import iter_lines


def read_lines(path: str):
    lines = [text for _, text in iter_lines(path)]
    if not lines:
        raise UserInputError("empty file: expected one sentence per line", path=path)
    return lines


def whiten(vectors: torch.Tensor, size: int) -> torch.Tensor:
    """Centre, rotate by the covariance's SVD, scale to unit variance, keep ``size`` dims, L2-normalise."""
    mean = vectors.mean(dim=0, keepdim=True)
    u, s, _ = torch.linalg.svd(torch.cov((vectors - mean).T))
    kernel = (u / s.sqrt())[:, :size]
    out = (vectors - mean) @ kernel
    return out / out.norm(dim=1, keepdim=True).clamp(min=1e-12)


@cli_main
def main(argv: Optional[List[str]] = None) -> None:
    parser = script_parser(__doc__)
    infer_opts(parser)
    parser.add_argument("--whitening_size", type=int, default=None, help="Whiten to this many dimensions.")
    args = parse_args(parser, argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    seq_length = input_length(args)
    tokenizer = build_tokenizer(args)
    encoder_input = PairEncoder(tokenizer, seq_length)
    lines = read_lines(args.test_path)
    dataset = pair_dataset(encoder_input, lines, path=args.test_path)
    backbone = load_for_inference(args, len(tokenizer.vocab), args.load_model_path, backbone_only=True)
    vectors = sentence_vectors(backbone, dataset, args.batch_size, args.pooling)
    if args.whitening_size:
        vectors = whiten(vectors, args.whitening_size)
    atomic_write(args.prediction_path, lambda temp: torch.save(vectors, temp))
    print(f"saved {tuple(vectors.shape)} features to {args.prediction_path}")


if __name__ == "__main__":
    main()
