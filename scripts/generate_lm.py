"""Continue a prompt with a language model (GPT-2, or an LSTM / GatedCNN LM).

The program is ``uer/cli/generate_lm.py``;
``pip install`` makes it the ``uer-generate-lm`` command.
"""
from uer.cli.generate_lm import build_parser, main  # noqa: E402,F401 (main, and what tests build from)

if __name__ == "__main__":
    main()
