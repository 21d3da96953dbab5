"""Pre-train a model on a dataset written by preprocess.py.

The program is ``uer/cli/pretrain.py``;
``pip install`` makes it the ``uer-pretrain`` command.
"""
if __name__ == "__main__":  # before torch loads: the command may run again under mimalloc
    from uer.training.allocator import use_mimalloc

    use_mimalloc(__file__)

from uer.cli.pretrain import build_parser, main  # noqa: E402,F401 (main, and what tests build from)

if __name__ == "__main__":
    main()
