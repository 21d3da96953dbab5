"""Check that a checkpoint loads strictly into the model its options describe.

The program is ``uer/cli/check_model.py``;
``pip install`` makes it the ``uer-check-model`` command.
"""
from uer.cli.check_model import build_parser, main  # noqa: E402,F401 (main, and what tests build from)

if __name__ == "__main__":
    main()
