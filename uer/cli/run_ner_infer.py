"""Tag sentences with a model fine-tuned by run_ner.py.

    python inference/run_ner_infer.py --load_model_path models/ner.bin \
        --vocab_path models/google_zh_vocab.txt --test_path datasets/msra_ner/test_nolabel.tsv \
        --prediction_path prediction.tsv

The input needs a text_a column of space-separated tokens. The label map, CRF and seq_length come
from the model's sidecar (--label2id_path and flags still win). Output: a header ``pred_label``,
then one line per sentence with one tag per token, separated by spaces.
"""
import logging
from typing import List, Optional

from uer.finetune import (check_seq_length, load_for_inference, predict_tags, read_label2id,
                          read_tagging, start_session)
from uer.finetune.options import infer_parser, tagging_opts
from uer.models.tagger import Tagger
from uer.tokenizers import build_tokenizer
from uer.utils.config import parse_args, saved_options
from uer.utils.errors import UserInputError, cli_main
from uer.utils.textfile import atomic_write

logger = logging.getLogger("run_ner_infer")


@cli_main
def main(argv: Optional[List[str]] = None) -> None:
    parser = infer_parser(__doc__)
    tagging_opts(parser, label2id_required=False)
    args = parse_args(parser, argv)
    ctx = start_session(args)
    if args.label2id_path:
        label2id = read_label2id(args.label2id_path)
    else:
        saved = saved_options(args.load_model_path)
        label2id = saved.values.get("label2id") if saved else None
        if not label2id:
            raise UserInputError("give --label2id_path: the model has no sidecar (or Hugging Face config.json) "
                                 "with its label map")
    id2label = sorted(label2id, key=label2id.get)
    check_seq_length(args.seq_length, args)
    tokenizer = build_tokenizer(args)
    data = read_tagging(args.test_path, tokenizer, label2id, args.seq_length, with_labels=False)
    model = Tagger.from_args(args, len(tokenizer.vocab), len(label2id))
    load_for_inference(model, args.load_model_path)
    tags = predict_tags(model, data, id2label, args, ctx)
    with atomic_write(args.prediction_path) as handle:
        handle.write("pred_label\n")
        handle.write("".join(" ".join(row) + "\n" for row in tags))
    logger.info("%d sentences tagged, written to %s", len(tags), args.prediction_path)


if __name__ == "__main__":
    main()
