"""Multi-task classification: one shared encoder, one classification head per dataset.

The program is ``uer/cli/run_mt_classifier.py``;
``pip install`` makes it the ``uer-run-mt-classifier`` command.
"""
if __name__ == "__main__":  # before torch loads: the command may run again under mimalloc
    from uer.training.allocator import use_mimalloc

    use_mimalloc(__file__)

from uer.cli.run_mt_classifier import build_parser, main  # noqa: E402,F401 (main, and what tests build from)

if __name__ == "__main__":
    main()
