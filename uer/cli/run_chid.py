"""Fine-tune idiom cloze (ChID): choose the idiom of each #idiomNNNNNN# blank among its line's candidates.

    python run_chid.py --pretrained_model_path models/google_zh_model.bin \
        --vocab_path models/google_zh_vocab.txt --config_path models/bert/base_config.json \
        --train_path datasets/chid/train.json --train_answer_path datasets/chid/train_answer.json \
        --dev_path datasets/chid/dev.json --dev_answer_path datasets/chid/dev_answer.json \
        --output_model_path models/chid_model.bin --epochs_num 3 --batch_size 16 --seq_length 64

Data files are JSON lines {"candidates": [...], "content": [...]}, answer files one JSON object
{tag: candidate index}. Text is split into characters (whatever --tokenizer says, as UER-py);
the vocabulary needs [MASK] and [unused1]. Dev accuracy (best candidate per blank) after every
epoch selects the model kept at --output_model_path.
"""
import logging
from typing import List, Optional

from uer.finetune import check_seq_length, fit, load_pretrained, save_finetuned, start_session
from uer.finetune.chid import assign_candidates, read_chid
from uer.finetune.multiple_choice import choice_opts, evaluate_choices
from uer.finetune.options import finetune_parser
from uer.models.multiple_choice import MultipleChoice
from uer.tokenizers import TOKENIZERS
from uer.training.runtime import launch, shutdown
from uer.utils.config import parse_args
from uer.utils.errors import cli_main

logger = logging.getLogger("run_chid")


def worker(args) -> None:
    ctx = start_session(args)
    check_seq_length(args.seq_length, args)
    tokenizer = TOKENIZERS.get("char").from_args(args)
    train = read_chid(args.train_path, tokenizer, args, args.train_answer_path)
    dev = read_chid(args.dev_path, tokenizer, args, args.dev_answer_path)

    def evaluate(model) -> float:
        result = evaluate_choices(model, dev, args, ctx)
        assigned = assign_candidates(result.logits, dev.meta["groups"], dev.meta["candidates_num"])
        logger.info("Acc. with one idiom per blank: %.4f", float((dev.fixed["tgt"] == assigned).mean()))
        return result.accuracy

    model = MultipleChoice.from_args(args, len(tokenizer.vocab))
    load_pretrained(model, args.pretrained_model_path)
    extra = {"max_choices_num": args.max_choices_num, "pooling": args.pooling, "seq_length": args.seq_length,
             "tokenizer": "char"}
    fit(model, train, args, ctx, evaluate=evaluate,
        save=lambda m: save_finetuned(m, args.output_model_path, args, extra, ctx))
    shutdown(ctx)


@cli_main
def main(argv: Optional[List[str]] = None) -> None:
    parser = finetune_parser(__doc__)
    choice_opts(parser, default=10)
    group = parser.add_argument_group("answers")
    group.add_argument("--train_answer_path", required=True, help="Answers of --train_path: {tag: index}.")
    group.add_argument("--dev_answer_path", required=True, help="Answers of --dev_path: {tag: index}.")
    launch(worker, parse_args(parser, argv))


if __name__ == "__main__":
    main()
