"""Fine-tune a named-entity tagger (BIO tags; softmax per token, or a CRF with --crf_target).

    python run_ner.py --pretrained_model_path models/google_zh_model.bin \
        --vocab_path models/google_zh_vocab.txt --config_path models/bert/base_config.json \
        --train_path datasets/msra_ner/train.tsv --dev_path datasets/msra_ner/dev.tsv \
        --test_path datasets/msra_ner/test.tsv --label2id_path datasets/msra_ner/label2id.json

Files are tab-separated with a header: text_a holds space-separated tokens (characters), label
the same number of tags. Entity-level precision/recall/F1 (exact span and type) on the dev set
after every epoch selects the model kept at --output_model_path; then the test set is scored.
"""
import logging
from typing import List, Optional

from uer.finetune import (check_seq_length, evaluate_tagger, evaluates_here, fit, load_for_inference, load_pretrained,
                          read_label2id, read_tagging, save_finetuned, start_session)
from uer.finetune.options import finetune_parser, tagging_opts
from uer.models.tagger import Tagger
from uer.tokenizers import build_tokenizer
from uer.training.runtime import launch, shutdown
from uer.utils.config import parse_args
from uer.utils.errors import cli_main

logger = logging.getLogger("run_ner")


def worker(args) -> None:
    ctx = start_session(args)
    check_seq_length(args.seq_length, args)
    label2id = read_label2id(args.label2id_path)
    id2label = sorted(label2id, key=label2id.get)
    tokenizer = build_tokenizer(args)  # only its vocabulary: the tokens are given space-separated
    train, dev = (read_tagging(path, tokenizer, label2id, args.seq_length) for path in (args.train_path, args.dev_path))
    test = read_tagging(args.test_path, tokenizer, label2id, args.seq_length) if args.test_path else None

    model = Tagger.from_args(args, len(tokenizer.vocab), len(label2id))
    load_pretrained(model, args.pretrained_model_path)
    extra = {"label2id": label2id, "crf_target": args.crf_target, "seq_length": args.seq_length}
    fit(model, train, args, ctx,
        evaluate=lambda m: evaluate_tagger(m, dev, id2label, args, ctx)["f1"],
        save=lambda m: save_finetuned(m, args.output_model_path, args, extra, ctx))

    if test is not None and evaluates_here(model, ctx):
        load_for_inference(model, args.output_model_path)
        logger.info("Test set evaluation (best model, %s):", args.output_model_path)
        evaluate_tagger(model, test, id2label, args, ctx)
    shutdown(ctx)


@cli_main
def main(argv: Optional[List[str]] = None) -> None:
    parser = finetune_parser(__doc__)
    tagging_opts(parser, label2id_required=True)
    launch(worker, parse_args(parser, argv))


if __name__ == "__main__":
    main()
