"""Predict classes with a model fine-tuned by run_classifier.py.

    python inference/run_classifier_infer.py --load_model_path models/classifier.bin \
        --vocab_path models/google_zh_vocab.txt --test_path datasets/douban_book_review/test_nolabel.tsv \
        --prediction_path prediction.tsv --output_prob

The architecture, labels_num, pooling, seq_length and tokenizer come from the model's sidecar
(``<model>.config.json``); flags given on the command line still win. The output is tab-separated
with the header ``label`` [``logits``] [``prob``], one row per input line, values space-separated.
"""
import logging
from typing import List, Optional

from uer.finetune import (PairEncoder, check_seq_length, load_for_inference, predict, prediction_lines,
                          read_classification, start_session)
from uer.finetune.options import infer_parser, output_opts
from uer.models.classifier import Classifier
from uer.tokenizers import build_tokenizer
from uer.utils.config import parse_args
from uer.utils.errors import UserInputError, cli_main
from uer.utils.textfile import atomic_write

logger = logging.getLogger("run_classifier_infer")


@cli_main
def main(argv: Optional[List[str]] = None) -> None:
    parser = infer_parser(__doc__)
    output_opts(parser)
    args = parse_args(parser, argv)
    ctx = start_session(args)
    if not args.labels_num:
        raise UserInputError("give --labels_num: the model has no sidecar saying how many classes it has")
    check_seq_length(args.seq_length, args)
    tokenizer = build_tokenizer(args)
    data = read_classification(args.test_path, PairEncoder(tokenizer, args.seq_length), args.labels_num,
                               with_labels=False)
    model = Classifier.from_args(args, len(tokenizer.vocab), args.labels_num)
    load_for_inference(model, args.load_model_path)
    logits = predict(model, data, args.batch_size, args, ctx)["logits"]
    with atomic_write(args.prediction_path) as handle:
        handle.write("\n".join(prediction_lines(logits, args.output_logits, args.output_prob)) + "\n")
    logger.info("%d predictions written to %s", len(logits), args.prediction_path)


if __name__ == "__main__":
    main()
