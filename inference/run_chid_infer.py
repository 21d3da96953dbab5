"""Fill ChID blanks with a model fine-tuned by run_chid.py.

The program is ``uer/cli/run_chid_infer.py``;
``pip install`` makes it the ``uer-run-chid-infer`` command.
"""
if __name__ == "__main__":  # before torch loads: the command may run again under mimalloc
    from uer.training.allocator import use_mimalloc

    use_mimalloc(__file__)

from uer.cli.run_chid_infer import main  # noqa: E402,F401 (main, and what tests build from)

if __name__ == "__main__":
    main()
