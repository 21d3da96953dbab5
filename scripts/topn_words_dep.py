"""Context-dependent nearest words: put each candidate at the target word's place in a sentence and.

The program is ``uer/cli/topn_words_dep.py``;
``pip install`` makes it the ``uer-topn-words-dep`` command.
"""
from uer.cli.topn_words_dep import build_parser, main  # noqa: E402,F401 (main, and what tests build from)

if __name__ == "__main__":
    main()
