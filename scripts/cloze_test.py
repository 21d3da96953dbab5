"""Cloze test: fill the blanks of each line with the masked language model's top-n guesses.

The program is ``uer/cli/cloze_test.py``;
``pip install`` makes it the ``uer-cloze-test`` command.
"""
from uer.cli.cloze_test import build_parser, main  # noqa: E402,F401 (main, and what tests build from)

if __name__ == "__main__":
    main()
