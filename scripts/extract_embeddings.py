"""Write a model's input word embeddings in word2vec text format.

The program is ``uer/cli/extract_embeddings.py``;
``pip install`` makes it the ``uer-extract-embeddings`` command.
"""
from uer.cli.extract_embeddings import build_parser, main  # noqa: E402,F401 (main, and what tests build from)

if __name__ == "__main__":
    main()
