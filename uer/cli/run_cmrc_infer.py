"""Answer questions with a model fine-tuned by run_cmrc.py.

    python inference/run_cmrc_infer.py --load_model_path models/cmrc_model.bin \
        --vocab_path models/google_zh_vocab.txt --test_path datasets/cmrc2018/test.json \
        --prediction_path prediction.json

The input is SQuAD-style JSON (answers, if any, are ignored). The architecture, seq_length,
doc_stride, max_answer_length and n_best_size come from the model's sidecar; flags still win.
Output: one JSON object ``{question_id: answer}`` (indent 4, characters kept as they are); with
--nbest_path also ``{question_id: [{"text": ..., "score": ...}, ...]}``, up to --n_best_size
candidates, best first (score = log p(start) + log p(end)).
"""
import json
import logging
from typing import List, Optional

from uer.finetune import check_seq_length, load_for_inference, start_session
from uer.finetune.mrc import build_windows, check_mrc_args, mrc_opts, predict_answers, read_mrc
from uer.finetune.options import infer_parser
from uer.models.mrc import MachineReadingComprehension
from uer.tokenizers import TOKENIZERS
from uer.utils.config import parse_args
from uer.utils.errors import cli_main
from uer.utils.textfile import atomic_write

logger = logging.getLogger("run_cmrc_infer")


@cli_main
def main(argv: Optional[List[str]] = None) -> None:
    parser = infer_parser(__doc__)
    mrc_opts(parser)
    parser.add_argument("--nbest_path", default=None, help="Also write the n-best answers of every question here.")
    args = parse_args(parser, argv)
    ctx = start_session(args)
    check_seq_length(args.seq_length, args)
    check_mrc_args(args)
    tokenizer = TOKENIZERS.get("char").from_args(args)
    examples = read_mrc(args.test_path, need_answers=False)
    data = build_windows(examples, tokenizer, args, with_labels=False, path=args.test_path)
    model = MachineReadingComprehension.from_args(args, len(tokenizer.vocab))
    load_for_inference(model, args.load_model_path)
    nbest = predict_answers(model, examples, data, args, ctx)
    answers = {e.qid: (best[0][0] if best else "") for e, best in zip(examples, nbest)}
    with atomic_write(args.prediction_path) as handle:
        handle.write(json.dumps(answers, indent=4, ensure_ascii=False) + "\n")
    if args.nbest_path:
        listed = {e.qid: [{"text": text, "score": round(score, 6)} for text, score in best]
                  for e, best in zip(examples, nbest)}
        with atomic_write(args.nbest_path) as handle:
            handle.write(json.dumps(listed, indent=4, ensure_ascii=False) + "\n")
    empty = sum(1 for best in nbest if not best)
    logger.info("%d answers written to %s%s", len(answers), args.prediction_path,
                f" ({empty} questions without context got an empty answer)" if empty else "")


if __name__ == "__main__":
    main()
