"""Answer C3 questions with a model fine-tuned by run_c3.py.

The program is ``uer/cli/run_c3_infer.py``;
``pip install`` makes it the ``uer-run-c3-infer`` command.
"""
if __name__ == "__main__":  # before torch loads: the command may run again under mimalloc
    from uer.training.allocator import use_mimalloc

    use_mimalloc(__file__)

from uer.cli.run_c3_infer import main  # noqa: E402,F401 (main, and what tests build from)

if __name__ == "__main__":
    main()
