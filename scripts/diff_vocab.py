"""Compare two vocabularies: their sizes, their intersection and what each has that the other lacks.

The program is ``uer/cli/diff_vocab.py``;
``pip install`` makes it the ``uer-diff-vocab`` command.
"""
from uer.cli.diff_vocab import build_parser, main  # noqa: E402,F401 (main, and what tests build from)

if __name__ == "__main__":
    main()
