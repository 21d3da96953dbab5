"""K-fold cross-validation of a classifier: one model per fold and out-of-fold probabilities,
the features of a stacking ensemble (scripts/run_lgb.py).

    python run_classifier_cv.py --pretrained_model_path models/google_zh_model.bin \
        --vocab_path models/google_zh_vocab.txt --config_path models/bert/base_config.json \
        --train_path datasets/douban_book_review/train.tsv --train_features_path train_features.npy \
        --output_model_path models/classifier_model.bin --folds_num 5 --epochs_num 3

The train file is cut into --folds_num contiguous folds in file order. Fold k's model, trained on
the other folds, is saved as <name>-fold_<k>.<ext> and predicts fold k; the class probabilities
of every line, in file order, are saved with np.save to --train_features_path ([N x labels_num]).
"""
import argparse
import logging
from typing import List, Optional

import numpy as np

from uer.finetune import (PairEncoder, check_seq_length, evaluate_classifier, fit, fold_path, load_pretrained,
                          read_classification, save_finetuned, start_session)
from uer.finetune.options import soft_target_opts
from uer.models.classifier import Classifier
from uer.opts import DEFAULT_CONFIG, model_opts, optimization_opts, tokenizer_opts, training_opts
from uer.tokenizers import build_tokenizer
from uer.training.runtime import distributed_opts, launch, shutdown
from uer.utils.cli import script_parser
from uer.utils.config import parse_args
from uer.utils.errors import UserInputError, cli_main
from uer.utils.seed import set_seed
from uer.utils.textfile import atomic_write

logger = logging.getLogger("run_classifier_cv")


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser(__doc__)
    group = parser.add_argument_group("paths")
    group.add_argument("--pretrained_model_path", default=None)
    group.add_argument("--output_model_path", default="models/classifier_model.bin",
                       help="Fold k is saved as <name>-fold_<k>.<ext>.")
    group.add_argument("--train_path", required=True)
    group.add_argument("--train_features_path", required=True, help="Out-of-fold probabilities (.npy).")
    group.add_argument("--config_path", default=DEFAULT_CONFIG)
    group.add_argument("--folds_num", type=int, default=5)
    for add in (model_opts, tokenizer_opts, optimization_opts, training_opts, soft_target_opts, distributed_opts):
        add(parser)
    return parser


def worker(args) -> None:
    ctx = start_session(args)
    check_seq_length(args.seq_length, args)
    tokenizer = build_tokenizer(args)
    data = read_classification(args.train_path, PairEncoder(tokenizer, args.seq_length), soft_targets=args.soft_targets)
    labels_num, n = data.meta["labels_num"], len(data)
    if not 2 <= args.folds_num <= n:
        raise UserInputError(f"--folds_num must be between 2 and the number of examples ({n}), got {args.folds_num}")
    folds = np.array_split(np.arange(n), args.folds_num)
    features = np.zeros((n, labels_num), dtype=np.float64)
    accuracies, f1s = [], []
    extra = {"labels_num": labels_num, "pooling": args.pooling, "seq_length": args.seq_length,
             "tokenizer": args.tokenizer, "folds_num": args.folds_num}
    for k, held_out in enumerate(folds):
        logger.info("Fold %d of %d: training on %d examples, predicting %d", k, args.folds_num, n - len(held_out),
                    len(held_out))
        set_seed(args.seed)
        model = Classifier.from_args(args, len(tokenizer.vocab), labels_num)
        load_pretrained(model, args.pretrained_model_path)
        train = data.subset(np.setdiff1d(np.arange(n), held_out))
        path = fold_path(args.output_model_path, k)
        fit(model, train, args, ctx, save=lambda m: save_finetuned(m, path, args, extra, ctx),
            state_path=path + ".state")
        if ctx.is_main:
            result = evaluate_classifier(model, data.subset(held_out), args, ctx)
            features[held_out] = result.probabilities
            accuracies.append(result.accuracy)
            f1s.append(result.macro_f1)
    if ctx.is_main:
        with atomic_write(args.train_features_path, "wb") as handle:
            np.save(handle, features)
        logger.info("Out-of-fold probabilities %s saved to %s", features.shape, args.train_features_path)
        logger.info("Acc. : %.4f", float(np.mean(accuracies)))
        logger.info("Macro F1 : %.4f", float(np.mean(f1s)))
    shutdown(ctx)


@cli_main
def main(argv: Optional[List[str]] = None) -> None:
    launch(worker, parse_args(build_parser(), argv))


if __name__ == "__main__":
    main()
