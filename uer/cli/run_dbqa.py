"""Answer selection (DBQA): rank the candidate sentences of each question, scored by mean
reciprocal rank (MRR).

    python run_dbqa.py --pretrained_model_path models/google_zh_model.bin \
        --vocab_path models/google_zh_vocab.txt --config_path models/bert/base_config.json \
        --train_path datasets/nlpcc-dbqa/train.tsv --dev_path datasets/nlpcc-dbqa/dev.tsv \
        --test_path datasets/nlpcc-dbqa/test.tsv --epochs_num 3

Files are tab-separated with a header: qid (integer), label (1 = the sentence answers the
question, else 0), text_a (the question), text_b (a candidate). The lines of one question must be
consecutive. A pair classifier scores every candidate by the probability of label 1; the dev MRR
after every epoch selects the model kept at --output_model_path. --soft_targets distils as
run_classifier.py does: the training file adds a logits column (two teacher logits, space-separated)
and the loss is soft_alpha * MSE(logits, teacher) + (1 - soft_alpha) * cross-entropy.
"""
import logging
from typing import List, Optional

from uer.finetune import (PairEncoder, TaskDataset, check_seq_length, evaluates_here, fit, load_for_inference,
                          load_pretrained, mean_reciprocal_rank, predict, read_classification, save_finetuned, softmax,
                          start_session)
from uer.finetune.options import finetune_parser, soft_target_opts
from uer.models.classifier import Classifier
from uer.tokenizers import build_tokenizer
from uer.training.runtime import launch, shutdown
from uer.utils.config import parse_args
from uer.utils.errors import UserInputError, cli_main

logger = logging.getLogger("run_dbqa")


def read_dbqa(path: str, encoder: PairEncoder, soft_targets: bool = False) -> TaskDataset:
    """Question/candidate pairs; ``meta["groups"]`` lists the example indices of each question.
    ``soft_targets`` reads the teacher logits column too (a training file for distillation)."""
    data = read_classification(path, encoder, labels_num=2, extra_columns=("qid",), soft_targets=soft_targets)
    if not data.meta["pair"]:
        raise UserInputError("a DBQA file needs a text_b column (the candidate sentences)", path=path)
    groups: List[List[int]] = []
    seen, previous = set(), None
    for index, qid in enumerate(data.meta["qid"]):
        if qid != previous:
            if qid in seen:
                raise UserInputError(f"the lines of question {qid!r} are not consecutive (line {index + 2} "
                                     f"starts it again)", path=path, line=index + 2)
            seen.add(qid)
            groups.append([])
            previous = qid
        groups[-1].append(index)
    data.meta["groups"] = groups
    return data


def evaluate_mrr(model, data: TaskDataset, args, ctx) -> float:
    logits = predict(model, data, args.batch_size, args, ctx)["logits"]
    mrr, skipped = mean_reciprocal_rank(data.meta["groups"], softmax(logits)[:, 1], data.fixed["tgt"])
    if skipped:
        logger.info("%d questions without a correct candidate are not ranked", skipped)
    logger.info("Mean Reciprocal Rank: %.4f", mrr)
    return mrr


def worker(args) -> None:
    ctx = start_session(args)
    check_seq_length(args.seq_length, args)
    tokenizer = build_tokenizer(args)
    encoder = PairEncoder(tokenizer, args.seq_length)
    train = read_dbqa(args.train_path, encoder, soft_targets=args.soft_targets)
    dev = read_dbqa(args.dev_path, encoder)
    test = read_dbqa(args.test_path, encoder) if args.test_path else None

    model = Classifier.from_args(args, len(tokenizer.vocab), 2)
    load_pretrained(model, args.pretrained_model_path)
    extra = {"labels_num": 2, "pooling": args.pooling, "seq_length": args.seq_length, "tokenizer": args.tokenizer}
    fit(model, train, args, ctx, evaluate=lambda m: evaluate_mrr(m, dev, args, ctx),
        save=lambda m: save_finetuned(m, args.output_model_path, args, extra, ctx))

    if test is not None and evaluates_here(model, ctx):
        load_for_inference(model, args.output_model_path)
        logger.info("Test set evaluation (best model, %s):", args.output_model_path)
        evaluate_mrr(model, test, args, ctx)
    shutdown(ctx)


@cli_main
def main(argv: Optional[List[str]] = None) -> None:
    parser = finetune_parser(__doc__)
    soft_target_opts(parser)
    launch(worker, parse_args(parser, argv))


if __name__ == "__main__":
    main()
