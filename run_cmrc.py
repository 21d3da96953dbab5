"""Fine-tune extractive reading comprehension on CMRC 2018 (SQuAD-style JSON).

The program is ``uer/cli/run_cmrc.py``;
``pip install`` makes it the ``uer-run-cmrc`` command.
"""
if __name__ == "__main__":  # before torch loads: the command may run again under mimalloc
    from uer.training.allocator import use_mimalloc

    use_mimalloc(__file__)

from uer.cli.run_cmrc import main  # noqa: E402,F401 (main, and what tests build from)

if __name__ == "__main__":
    main()
