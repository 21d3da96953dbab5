"""Average the class probabilities of the fold models of run_classifier_cv.py on a test file.

    python inference/run_classifier_infer_cv.py --load_model_path models/classifier_model.bin \
        --vocab_path models/google_zh_vocab.txt --test_path datasets/douban_book_review/test_nolabel.tsv \
        --test_features_path test_features.npy --folds_num 5

Loads <name>-fold_<k>.<ext> for k = 0 .. folds_num-1 (the architecture from their sidecar) and
saves the mean probabilities with np.save to --test_features_path ([N_test x labels_num], float64).
"""
import argparse
import logging
from typing import List, Optional

import numpy as np

from uer.finetune import (PairEncoder, check_seq_length, fold_path, load_for_inference, predict, read_classification,
                          softmax, start_session)
from uer.finetune.options import output_opts, precision_opts
from uer.models.classifier import Classifier
from uer.opts import DEFAULT_CONFIG, model_opts, tokenizer_opts
from uer.tokenizers import build_tokenizer
from uer.training.runtime import distributed_opts
from uer.utils.cli import script_parser
from uer.utils.config import parse_args
from uer.utils.errors import UserInputError, cli_main
from uer.utils.textfile import atomic_write

logger = logging.getLogger("run_classifier_infer_cv")


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser(__doc__)
    parser.add_argument("--load_model_path", required=True, help="Name of the fold models without -fold_<k>.")
    parser.add_argument("--test_path", required=True)
    parser.add_argument("--test_features_path", required=True, help="Averaged probabilities (.npy).")
    parser.add_argument("--config_path", default=DEFAULT_CONFIG)
    parser.add_argument("--folds_num", type=int, default=5)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--seq_length", type=int, default=128)
    parser.add_argument("--first_fold_model", default=None, help=argparse.SUPPRESS)
    for add in (model_opts, tokenizer_opts, output_opts, distributed_opts, precision_opts):
        add(parser)
    return parser


@cli_main
def main(argv: Optional[List[str]] = None) -> None:
    parser = build_parser()
    # The options saved beside fold 0 describe every fold: read that sidecar like a model's own.
    known, _ = parser.parse_known_args(argv)
    parser.set_defaults(first_fold_model=fold_path(known.load_model_path, 0))
    args = parse_args(parser, argv, model_path_attrs=("first_fold_model",))
    ctx = start_session(args)
    if not args.labels_num:
        raise UserInputError("give --labels_num: the fold models have no sidecar saying how many classes they have")
    check_seq_length(args.seq_length, args)
    tokenizer = build_tokenizer(args)
    data = read_classification(args.test_path, PairEncoder(tokenizer, args.seq_length), args.labels_num,
                               with_labels=False)
    total = np.zeros((len(data), args.labels_num), dtype=np.float64)
    for k in range(args.folds_num):
        model = Classifier.from_args(args, len(tokenizer.vocab), args.labels_num)
        load_for_inference(model, fold_path(args.load_model_path, k))
        total += softmax(predict(model, data, args.batch_size, args, ctx)["logits"])
    features = total / args.folds_num
    with atomic_write(args.test_features_path, "wb") as handle:
        np.save(handle, features)
    logger.info("Test features %s saved to %s", features.shape, args.test_features_path)


if __name__ == "__main__":
    main()
