"""Pre-train a model on a dataset written by preprocess.py.

    python pretrain.py --dataset_path dataset.pt --vocab_path models/google_zh_vocab.txt \\
        --config_path models/bert/base_config.json --output_model_path models/model.bin \\
        --total_steps 100000 --save_checkpoint_steps 10000 --target bert

Processes: one (CPU, or the GPU of ``--gpu_ranks g``); several on one or more machines with
``--world_size N --gpu_ranks ... --master_ip tcp://host:port`` or with ``torchrun``.
Checkpoints go to ``<output_model_path>-<step>`` (+ ``.config.json``) every
``--save_checkpoint_steps`` and at the last step, each with a training state ``<...>.state``
that ``--resume`` continues from (``--resume auto`` picks the latest).
"""
import argparse
from typing import List, Optional

from uer.opts import DEFAULT_CONFIG, model_opts, optimization_opts, tokenizer_opts
from uer.trainer import pretraining_opts, run_pretraining
from uer.training.runtime import distributed_opts
from uer.utils.cli import script_parser
from uer.utils.config import parse_args
from uer.utils.errors import cli_main


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser(__doc__)
    parser.add_argument("--config_path", default=DEFAULT_CONFIG, help="Model preset (sizes, architecture).")
    pretraining_opts(parser)
    model_opts(parser)
    tokenizer_opts(parser)
    optimization_opts(parser)
    distributed_opts(parser)
    return parser


@cli_main
def main(argv: Optional[List[str]] = None) -> None:
    run_pretraining(parse_args(build_parser(), argv))


if __name__ == "__main__":
    main()
