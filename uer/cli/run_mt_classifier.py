"""Multi-task classification: one shared encoder, one classification head per dataset.

    python run_mt_classifier.py --pretrained_model_path models/google_zh_model.bin \
        --vocab_path models/google_zh_vocab.txt --config_path models/bert/base_config.json \
        --dataset_path_list datasets/douban_book_review/ datasets/chnsenticorp/ \
        --output_model_path models/multitask_classifier_model.bin --epochs_num 3

Each folder holds train.tsv and dev.tsv (classification format). Batches of all datasets are
shuffled together every epoch; each dataset's dev accuracy is reported after every epoch and
the model with the best mean dev accuracy is kept.
"""
import argparse
import logging
import os
from typing import List, Optional

import numpy as np

from uer.finetune import (MixedBatches, PairEncoder, check_seq_length, evaluate_classifier, fit, load_pretrained,
                          read_classification, save_finetuned, start_session)
from uer.models.multitask_classifier import MultitaskClassifier
from uer.opts import DEFAULT_CONFIG, model_opts, optimization_opts, tokenizer_opts, training_opts
from uer.tokenizers import build_tokenizer
from uer.training.runtime import distributed_opts, launch, shutdown
from uer.utils.cli import script_parser
from uer.utils.config import parse_args
from uer.utils.errors import cli_main

logger = logging.getLogger("run_mt_classifier")


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser(__doc__)
    group = parser.add_argument_group("paths")
    group.add_argument("--pretrained_model_path", default=None)
    group.add_argument("--dataset_path_list", nargs="+", required=True,
                       help="Folders holding train.tsv and dev.tsv, one per task.")
    group.add_argument("--output_model_path", default="models/multitask_classifier_model.bin")
    group.add_argument("--config_path", default=DEFAULT_CONFIG)
    for add in (model_opts, tokenizer_opts, optimization_opts, training_opts, distributed_opts):
        add(parser)
    return parser


def worker(args) -> None:
    ctx = start_session(args)
    check_seq_length(args.seq_length, args)
    tokenizer = build_tokenizer(args)
    encoder = PairEncoder(tokenizer, args.seq_length)
    trains, devs = [], []
    for task, folder in enumerate(args.dataset_path_list):
        train = read_classification(os.path.join(folder, "train.tsv"), encoder)
        labels_num = train.meta["labels_num"]
        trains.append(train.with_constants(task=task))
        devs.append(read_classification(os.path.join(folder, "dev.tsv"), encoder, labels_num).with_constants(task=task))
    labels_nums = [train.meta["labels_num"] for train in trains]

    def evaluate(model) -> float:
        accuracies = []
        for folder, dev in zip(args.dataset_path_list, devs):
            logger.info("Dataset %s:", folder)
            accuracies.append(evaluate_classifier(model, dev, args, ctx).accuracy)
        return float(np.mean(accuracies))

    model = MultitaskClassifier.from_args(args, len(tokenizer.vocab), labels_nums)
    load_pretrained(model, args.pretrained_model_path)
    extra = {"labels_nums": labels_nums, "datasets": list(args.dataset_path_list), "pooling": args.pooling,
             "seq_length": args.seq_length, "tokenizer": args.tokenizer}
    fit(model, MixedBatches(trains), args, ctx, evaluate=evaluate,
        save=lambda m: save_finetuned(m, args.output_model_path, args, extra, ctx), find_unused_parameters=True)
    shutdown(ctx)


@cli_main
def main(argv: Optional[List[str]] = None) -> None:
    launch(worker, parse_args(build_parser(), argv))


if __name__ == "__main__":
    main()
