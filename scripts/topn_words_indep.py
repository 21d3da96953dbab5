"""Context-independent nearest words: cosine similarity of input word embeddings.

The program is ``uer/cli/topn_words_indep.py``;
``pip install`` makes it the ``uer-topn-words-indep`` command.
"""
from uer.cli.topn_words_indep import build_parser, main  # noqa: E402,F401 (main, and what tests build from)

if __name__ == "__main__":
    main()
