"""Fine-tune multiple-choice reading comprehension on C3.

    python run_c3.py --pretrained_model_path models/google_zh_model.bin \
        --vocab_path models/google_zh_vocab.txt --config_path models/bert/base_config.json \
        --train_path datasets/c3/train.json --dev_path datasets/c3/dev.json \
        --output_model_path models/c3_model.bin --epochs_num 8 --batch_size 8 --seq_length 512

Every question is scored against each of its choices (up to --max_choices_num; questions may have
fewer) on ``[CLS] choice [SEP] question [SEP] context [SEP]``, tokenized by --tokenizer. The
gold choice is the one whose text equals the answer. Dev accuracy after every epoch selects the
model kept at --output_model_path; a --test_path with answers is then scored with it.
"""
import logging
from typing import List, Optional

from uer.finetune import (check_seq_length, evaluates_here, fit, load_for_inference, load_pretrained, save_finetuned,
                          start_session)
from uer.finetune.multiple_choice import choice_opts, evaluate_choices, read_c3
from uer.finetune.options import finetune_parser
from uer.models.multiple_choice import MultipleChoice
from uer.tokenizers import build_tokenizer
from uer.training.runtime import launch, shutdown
from uer.utils.config import parse_args
from uer.utils.errors import cli_main

logger = logging.getLogger("run_c3")


def worker(args) -> None:
    ctx = start_session(args)
    check_seq_length(args.seq_length, args)
    tokenizer = build_tokenizer(args)
    train, dev = (read_c3(path, tokenizer, args) for path in (args.train_path, args.dev_path))
    test = read_c3(args.test_path, tokenizer, args) if args.test_path else None

    model = MultipleChoice.from_args(args, len(tokenizer.vocab))
    load_pretrained(model, args.pretrained_model_path)
    extra = {"max_choices_num": args.max_choices_num, "pooling": args.pooling, "seq_length": args.seq_length,
             "tokenizer": args.tokenizer}
    fit(model, train, args, ctx,
        evaluate=lambda m: evaluate_choices(m, dev, args, ctx).accuracy,
        save=lambda m: save_finetuned(m, args.output_model_path, args, extra, ctx))

    if test is not None and evaluates_here(model, ctx):
        load_for_inference(model, args.output_model_path)
        logger.info("Test set evaluation (best model, %s):", args.output_model_path)
        evaluate_choices(model, test, args, ctx)
    shutdown(ctx)


@cli_main
def main(argv: Optional[List[str]] = None) -> None:
    parser = finetune_parser(__doc__)
    choice_opts(parser, default=4)
    launch(worker, parse_args(parser, argv))


if __name__ == "__main__":
    main()
