"""Fine-tune multiple-choice reading comprehension on C3.

The program is ``uer/cli/run_c3.py``;
``pip install`` makes it the ``uer-run-c3`` command.
"""
if __name__ == "__main__":  # before torch loads: the command may run again under mimalloc
    from uer.training.allocator import use_mimalloc

    use_mimalloc(__file__)

from uer.cli.run_c3 import main  # noqa: E402,F401 (main, and what tests build from)

if __name__ == "__main__":
    main()
