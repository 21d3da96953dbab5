"""Fill ChID blanks with a model fine-tuned by run_chid.py.

    python inference/run_chid_infer.py --load_model_path models/chid_model.bin \
        --vocab_path models/google_zh_vocab.txt --test_path datasets/chid/test.json \
        --prediction_path prediction.json

The architecture, max_choices_num, pooling and seq_length come from the model's sidecar; flags
still win. Blanks of one line share its candidates: the best-scored (blank, idiom) pairs are
fixed first so that no idiom fills two blanks. Output: one JSON object
``{"#idiomNNNNNN#": candidate index}`` (indent 2).
"""
import json
import logging
from typing import List, Optional

from uer.finetune import check_seq_length, load_for_inference, start_session
from uer.finetune.chid import assign_candidates, read_chid
from uer.finetune.multiple_choice import choice_opts, predict_choices
from uer.finetune.options import infer_parser
from uer.models.multiple_choice import MultipleChoice
from uer.tokenizers import TOKENIZERS
from uer.utils.config import parse_args
from uer.utils.errors import cli_main
from uer.utils.textfile import atomic_write

logger = logging.getLogger("run_chid_infer")


@cli_main
def main(argv: Optional[List[str]] = None) -> None:
    parser = infer_parser(__doc__)
    choice_opts(parser, default=10)
    args = parse_args(parser, argv)
    ctx = start_session(args)
    check_seq_length(args.seq_length, args)
    tokenizer = TOKENIZERS.get("char").from_args(args)
    data = read_chid(args.test_path, tokenizer, args)
    model = MultipleChoice.from_args(args, len(tokenizer.vocab))
    load_for_inference(model, args.load_model_path)
    logits = predict_choices(model, data, args, ctx)
    chosen = assign_candidates(logits, data.meta["groups"], data.meta["candidates_num"])
    with atomic_write(args.prediction_path) as handle:
        handle.write(json.dumps(dict(zip(data.meta["tags"], chosen)), indent=2, ensure_ascii=False) + "\n")
    logger.info("%d blanks filled, written to %s", len(chosen), args.prediction_path)


if __name__ == "__main__":
    main()
