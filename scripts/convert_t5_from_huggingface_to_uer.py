"""Convert T5 v1.0, T5 v1.1 and mT5: Hugging Face -> UER (T5ForConditionalGeneration / MT5ForConditionalGeneration).

The program is ``uer/cli/convert_t5_from_huggingface_to_uer.py``;
``pip install`` makes it the ``uer-convert-t5-from-huggingface-to-uer`` command.
"""
from uer.cli.convert_t5_from_huggingface_to_uer import main  # noqa: E402,F401 (main, and what tests build from)

if __name__ == "__main__":
    main()
