"""Adapt a checkpoint to a new vocabulary (e.g. one with added domain words).

The program is ``uer/cli/dynamic_vocab_adapter.py``;
``pip install`` makes it the ``uer-dynamic-vocab-adapter`` command.
"""
from uer.cli.dynamic_vocab_adapter import build_parser, main  # noqa: E402,F401 (main, and what tests build from)

if __name__ == "__main__":
    main()
