"""K-fold cross-validation of a classifier: one model per fold and out-of-fold probabilities,.

The program is ``uer/cli/run_classifier_cv.py``;
``pip install`` makes it the ``uer-run-classifier-cv`` command.
"""
if __name__ == "__main__":  # before torch loads: the command may run again under mimalloc
    from uer.training.allocator import use_mimalloc

    use_mimalloc(__file__)

from uer.cli.run_classifier_cv import build_parser, main  # noqa: E402,F401 (main, and what tests build from)

if __name__ == "__main__":
    main()
