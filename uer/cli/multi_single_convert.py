"""Add or remove the ``module.`` prefix that DataParallel / DistributedDataParallel put on every key.

    python scripts/multi_single_convert.py --input_model_path models/ddp_model.bin \
        --output_model_path models/model.bin --delete_module_prefix

Our loaders strip ``module.`` (and ``_orig_mod.``) themselves; this tool is for other programs
that need one form or the other. The ``.config.json`` sidecar, if any, is copied.
"""
import argparse
import logging
from typing import List, Optional

from uer.model_loader import load_state_dict_file
from uer.model_saver import save_state_dict
from uer.model_tools import change_module_prefix, copy_sidecar
from uer.utils.cli import script_parser
from uer.utils.errors import UserInputError, cli_main


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser(__doc__)
    parser.add_argument("--input_model_path", required=True)
    parser.add_argument("--output_model_path", required=True)
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--delete_module_prefix", action="store_true", help="module.x -> x")
    action.add_argument("--add_module_prefix", action="store_true", help="x -> module.x")
    return parser


@cli_main
def main(argv: Optional[List[str]] = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.output_model_path == args.input_model_path:
        raise UserInputError("--output_model_path must differ from --input_model_path", path=args.output_model_path)
    # load_state_dict_file strips every wrapper prefix, so adding starts from clean names.
    state_dict = change_module_prefix(load_state_dict_file(args.input_model_path), add=args.add_module_prefix)
    save_state_dict(state_dict, args.output_model_path)
    copy_sidecar(args.input_model_path, args.output_model_path)
    print(f"{'added' if args.add_module_prefix else 'removed'} the module. prefix: {len(state_dict)} tensors "
          f"written to {args.output_model_path}")


if __name__ == "__main__":
    main()
