"""Add or remove the ``module.`` prefix that DataParallel / DistributedDataParallel put on every key.

The program is ``uer/cli/multi_single_convert.py``;
``pip install`` makes it the ``uer-multi-single-convert`` command.
"""
from uer.cli.multi_single_convert import build_parser, main  # noqa: E402,F401 (main, and what tests build from)

if __name__ == "__main__":
    main()
