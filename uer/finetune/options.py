"""Option groups of the fine-tuning and inference scripts, on top of :mod:`uer.opts`."""
import argparse

from uer.opts import finetune_opts, infer_opts
from uer.training.runtime import distributed_opts
from uer.utils.cli import script_parser


def finetune_parser(description: str) -> argparse.ArgumentParser:
    """Paths, model, tokenizer, optimisation and training options, and devices/processes."""
    parser = script_parser(description)
    finetune_opts(parser)
    distributed_opts(parser)
    return parser


def infer_parser(description: str) -> argparse.ArgumentParser:
    """Model path, test/prediction paths, model and tokenizer options, device and precision."""
    parser = script_parser(description)
    infer_opts(parser)
    distributed_opts(parser, training=False)
    precision_opts(parser)
    return parser


def precision_opts(parser: argparse.ArgumentParser) -> None:
    """``--fp16``/``--bf16`` for inference scripts (training gets them from optimization_opts)."""
    group = parser.add_argument_group("precision").add_mutually_exclusive_group()
    group.add_argument("--fp16", action="store_true", help="float16 autocast (GPU).")
    group.add_argument("--bf16", action="store_true",
                       help="bfloat16 autocast (recent GPUs; CPUs with AMX/AVX512-BF16 run it much faster).")


def soft_target_opts(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("distillation")
    group.add_argument("--soft_targets", action="store_true",
                       help="Train on the teacher logits of the file's logits column too.")
    group.add_argument("--soft_alpha", type=float, default=0.5,
                       help="Weight of the MSE to the teacher logits (1 - soft_alpha for the labels).")


def output_opts(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("prediction output")
    group.add_argument("--output_logits", action="store_true", help="Add a logits column.")
    group.add_argument("--output_prob", action="store_true", help="Add a prob column (softmax).")


def tagging_opts(parser: argparse.ArgumentParser, label2id_required: bool) -> None:
    group = parser.add_argument_group("tagging")
    group.add_argument("--label2id_path", required=label2id_required, default=None,
                       help='JSON object of tag ids, e.g. {"O": 0, "B-PER": 1, ...}.')
    group.add_argument("--crf_target", action="store_true", help="Score tag sequences with a CRF (Viterbi).")
