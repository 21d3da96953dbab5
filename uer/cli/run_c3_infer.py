"""Answer C3 questions with a model fine-tuned by run_c3.py.

    python inference/run_c3_infer.py --load_model_path models/c3_model.bin \
        --vocab_path models/google_zh_vocab.txt --test_path datasets/c3/test.json \
        --prediction_path prediction.json

The input is a C3 file (answers, if any, are ignored). The architecture, max_choices_num,
pooling, seq_length and tokenizer come from the model's sidecar; flags still win. Output: JSON
lines ``{"id": <question id>, "label": <choice index>}``, one per question in file order; a
question without ``id`` is named by its position in the file (from 0).
"""
import json
import logging
from typing import List, Optional

from uer.finetune import check_seq_length, load_for_inference, start_session
from uer.finetune.multiple_choice import choice_opts, predict_choices, read_c3
from uer.finetune.options import infer_parser
from uer.models.multiple_choice import MultipleChoice
from uer.tokenizers import build_tokenizer
from uer.utils.config import parse_args
from uer.utils.errors import cli_main
from uer.utils.textfile import atomic_write

logger = logging.getLogger("run_c3_infer")


@cli_main
def main(argv: Optional[List[str]] = None) -> None:
    parser = infer_parser(__doc__)
    choice_opts(parser, default=4)
    args = parse_args(parser, argv)
    ctx = start_session(args)
    check_seq_length(args.seq_length, args)
    tokenizer = build_tokenizer(args)
    data = read_c3(args.test_path, tokenizer, args, with_labels=False)
    model = MultipleChoice.from_args(args, len(tokenizer.vocab))
    load_for_inference(model, args.load_model_path)
    labels = predict_choices(model, data, args, ctx).argmax(axis=1)
    with atomic_write(args.prediction_path) as handle:
        for qid, label in zip(data.meta["ids"], labels):
            handle.write(json.dumps({"id": qid, "label": int(label)}, ensure_ascii=False) + "\n")
    logger.info("%d predictions written to %s", len(labels), args.prediction_path)


if __name__ == "__main__":
    main()
