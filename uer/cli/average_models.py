"""Average the weights of several checkpoints (e.g. the last few of one training run).

    python scripts/average_models.py --model_list_path models/model.bin-9000 models/model.bin-10000 \
        --output_model_path models/model_avg.bin

Every checkpoint must hold the same tensors with the same shapes; ``module.``/``_orig_mod.``
prefixes are removed first. The first checkpoint's ``.config.json`` sidecar is copied.
"""
import argparse
import logging
from typing import List, Optional

from uer.model_loader import load_state_dict_file
from uer.model_saver import save_state_dict
from uer.model_tools import average_state_dicts, copy_sidecar, read_sidecar
from uer.utils.cli import script_parser
from uer.utils.errors import UserInputError, cli_main


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser(__doc__)
    parser.add_argument("--model_list_path", nargs="+", required=True, help="Checkpoints to average.")
    parser.add_argument("--output_model_path", required=True, help="Where to write the averaged weights.")
    return parser


@cli_main
def main(argv: Optional[List[str]] = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.output_model_path in args.model_list_path:
        raise UserInputError("--output_model_path must not be one of the inputs", path=args.output_model_path)
    state_dicts = [load_state_dict_file(path) for path in args.model_list_path]
    for path in args.model_list_path[1:]:
        if read_sidecar(path) != read_sidecar(args.model_list_path[0]):
            logging.warning("%s: its .config.json differs from that of %s; the latter is kept", path,
                            args.model_list_path[0])
    averaged = average_state_dicts(state_dicts, args.model_list_path)
    save_state_dict(averaged, args.output_model_path)
    copy_sidecar(args.model_list_path[0], args.output_model_path)
    print(f"averaged {len(state_dicts)} checkpoints ({len(averaged)} tensors) into {args.output_model_path}")


if __name__ == "__main__":
    main()
