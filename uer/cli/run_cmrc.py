"""Fine-tune extractive reading comprehension on CMRC 2018 (SQuAD-style JSON).

    python run_cmrc.py --pretrained_model_path models/google_zh_model.bin \
        --vocab_path models/google_zh_vocab.txt --config_path models/bert/base_config.json \
        --train_path datasets/cmrc2018/train.json --dev_path datasets/cmrc2018/dev.json \
        --output_model_path models/cmrc_model.bin --epochs_num 2 --batch_size 8 --seq_length 512

Text is split into characters (whatever --tokenizer says, as UER-py). A context longer than
the input is read through windows --doc_stride characters apart; the answer is the best span of
at most --max_answer_length characters over all windows. After every epoch the dev set is
scored with the official CMRC 2018 metric (``Avg: x,F1:x,EM:x,Total:n,Skip:k``, percentages);
the model with the best (EM + F1) / 2 is kept at --output_model_path, then the test set, if
given, is scored with it.
"""
import logging
from typing import List, Optional

from uer.finetune import (check_seq_length, evaluates_here, fit, load_for_inference, load_pretrained, save_finetuned,
                          start_session)
from uer.finetune.mrc import build_windows, check_mrc_args, evaluate_mrc, mrc_opts, read_mrc
from uer.finetune.options import finetune_parser
from uer.models.mrc import MachineReadingComprehension
from uer.tokenizers import TOKENIZERS
from uer.training.runtime import launch, shutdown
from uer.utils.config import parse_args
from uer.utils.errors import cli_main

logger = logging.getLogger("run_cmrc")


def worker(args) -> None:
    ctx = start_session(args)
    check_seq_length(args.seq_length, args)
    check_mrc_args(args)
    tokenizer = TOKENIZERS.get("char").from_args(args)
    train_examples = read_mrc(args.train_path)
    train = build_windows(train_examples, tokenizer, args, with_labels=True, path=args.train_path)
    evaluation = []
    for path in filter(None, (args.dev_path, args.test_path)):
        examples = read_mrc(path)
        evaluation.append((examples, build_windows(examples, tokenizer, args, with_labels=False, path=path)))
    dev_examples, dev = evaluation[0]

    model = MachineReadingComprehension.from_args(args, len(tokenizer.vocab))
    load_pretrained(model, args.pretrained_model_path)
    extra = {"seq_length": args.seq_length, "tokenizer": "char", "doc_stride": args.doc_stride,
             "max_answer_length": args.max_answer_length, "n_best_size": args.n_best_size}
    fit(model, train, args, ctx,
        evaluate=lambda m: evaluate_mrc(m, dev_examples, dev, args, ctx)["avg"],
        save=lambda m: save_finetuned(m, args.output_model_path, args, extra, ctx))

    if args.test_path and evaluates_here(model, ctx):
        test_examples, test = evaluation[1]
        load_for_inference(model, args.output_model_path)
        logger.info("Test set evaluation (best model, %s):", args.output_model_path)
        evaluate_mrc(model, test_examples, test, args, ctx)
    shutdown(ctx)


@cli_main
def main(argv: Optional[List[str]] = None) -> None:
    parser = finetune_parser(__doc__)
    mrc_opts(parser)
    launch(worker, parse_args(parser, argv))


if __name__ == "__main__":
    main()
