"""Average the class probabilities of the fold models of run_classifier_cv.py on a test file.

The program is ``uer/cli/run_classifier_infer_cv.py``;
``pip install`` makes it the ``uer-run-classifier-infer-cv`` command.
"""
if __name__ == "__main__":  # before torch loads: the command may run again under mimalloc
    from uer.training.allocator import use_mimalloc

    use_mimalloc(__file__)

from uer.cli.run_classifier_infer_cv import build_parser, main  # noqa: E402,F401 (main, and what tests build from)

if __name__ == "__main__":
    main()
