"""Build a vocabulary from a corpus: BERT's special tokens first, then tokens by frequency.

The program is ``uer/cli/build_vocab.py``;
``pip install`` makes it the ``uer-build-vocab`` command.
"""
from uer.cli.build_vocab import build_parser, main  # noqa: E402,F401 (main, and what tests build from)

if __name__ == "__main__":
    main()
