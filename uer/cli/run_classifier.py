"""Fine-tune a classifier on single sentences or sentence pairs.

    python run_classifier.py --pretrained_model_path models/book_review_model.bin \
        --vocab_path models/google_zh_vocab.txt --config_path models/bert/base_config.json \
        --train_path datasets/douban_book_review/train.tsv --dev_path datasets/douban_book_review/dev.tsv \
        --test_path datasets/douban_book_review/test.tsv --epochs_num 3 --batch_size 32

Files are tab-separated with a header naming the columns: label, text_a, optional text_b (sentence
pairs) and logits (teacher logits, for --soft_targets). The model is evaluated on the dev set
after every epoch; the best one is kept at --output_model_path (with a sidecar of everything
inference needs), then scored on the test set.
"""
import logging
from typing import List, Optional

from uer.finetune import (PairEncoder, check_seq_length, evaluate_classifier, evaluates_here, fit, load_for_inference,
                          load_pretrained, read_classification, save_finetuned, start_session)
from uer.finetune.options import finetune_parser, soft_target_opts
from uer.models.classifier import Classifier
from uer.tokenizers import build_tokenizer
from uer.training.runtime import launch, shutdown
from uer.utils.config import parse_args
from uer.utils.errors import cli_main

logger = logging.getLogger("run_classifier")


def worker(args) -> None:
    ctx = start_session(args)
    check_seq_length(args.seq_length, args)
    tokenizer = build_tokenizer(args)
    encoder = PairEncoder(tokenizer, args.seq_length)
    train = read_classification(args.train_path, encoder, soft_targets=args.soft_targets)
    labels_num = train.meta["labels_num"]
    dev = read_classification(args.dev_path, encoder, labels_num)
    test = read_classification(args.test_path, encoder, labels_num) if args.test_path else None

    model = Classifier.from_args(args, len(tokenizer.vocab), labels_num)
    load_pretrained(model, args.pretrained_model_path)
    extra = {"labels_num": labels_num, "pooling": args.pooling,
             "seq_length": args.seq_length, "tokenizer": args.tokenizer}
    fit(model, train, args, ctx,
        evaluate=lambda m: evaluate_classifier(m, dev, args, ctx).accuracy,
        save=lambda m: save_finetuned(m, args.output_model_path, args, extra, ctx))

    if test is not None and evaluates_here(model, ctx):
        load_for_inference(model, args.output_model_path)
        logger.info("Test set evaluation (best model, %s):", args.output_model_path)
        evaluate_classifier(model, test, args, ctx, report=True)
    shutdown(ctx)


@cli_main
def main(argv: Optional[List[str]] = None) -> None:
    parser = finetune_parser(__doc__)
    soft_target_opts(parser)
    launch(worker, parse_args(parser, argv))


if __name__ == "__main__":
    main()
