"""Fine-tune a named-entity tagger (BIO tags; softmax per token, or a CRF with --crf_target).

The program is ``uer/cli/run_ner.py``;
``pip install`` makes it the ``uer-run-ner`` command.
"""
if __name__ == "__main__":  # before torch loads: the command may run again under mimalloc
    from uer.training.allocator import use_mimalloc

    use_mimalloc(__file__)

from uer.cli.run_ner import main  # noqa: E402,F401 (main, and what tests build from)

if __name__ == "__main__":
    main()
