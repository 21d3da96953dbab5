"""Generate a target sequence for every source line with a seq2seq model (transformer seq2seq, T5).

The program is ``uer/cli/generate_seq2seq.py``;
``pip install`` makes it the ``uer-generate-seq2seq`` command.
"""
from uer.cli.generate_seq2seq import build_parser, main  # noqa: E402,F401 (main, and what tests build from)

if __name__ == "__main__":
    main()
