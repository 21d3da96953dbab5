"""Fine-tune idiom cloze (ChID): choose the idiom of each #idiomNNNNNN# blank among its line's candidates.

The program is ``uer/cli/run_chid.py``;
``pip install`` makes it the ``uer-run-chid`` command.
"""
if __name__ == "__main__":  # before torch loads: the command may run again under mimalloc
    from uer.training.allocator import use_mimalloc

    use_mimalloc(__file__)

from uer.cli.run_chid import main  # noqa: E402,F401 (main, and what tests build from)

if __name__ == "__main__":
    main()
