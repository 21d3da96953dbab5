"""Turn a text corpus into a pre-training dataset file for pretrain.py.

The program is ``uer/cli/preprocess.py``;
``pip install`` makes it the ``uer-preprocess`` command.
"""
from uer.cli.preprocess import build_parser, main  # noqa: E402,F401 (main, and what tests build from)

if __name__ == "__main__":
    main()
