"""Average the weights of several checkpoints (e.g. the last few of one training run).

The program is ``uer/cli/average_models.py``;
``pip install`` makes it the ``uer-average-models`` command.
"""
from uer.cli.average_models import build_parser, main  # noqa: E402,F401 (main, and what tests build from)

if __name__ == "__main__":
    main()
