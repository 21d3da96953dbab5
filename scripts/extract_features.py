"""Sentence vectors: encode each line of --test_path as ``[CLS] text [SEP]``, pool, and save a.

The program is ``uer/cli/extract_features.py``;
``pip install`` makes it the ``uer-extract-features`` command.
"""
from uer.cli.extract_features import main  # noqa: E402,F401 (main, and what tests build from)

if __name__ == "__main__":
    main()
