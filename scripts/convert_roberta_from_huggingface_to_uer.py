"""Convert RoBERTa: Hugging Face -> UER (RobertaForMaskedLM or RobertaModel).

The program is ``uer/cli/convert_roberta_from_huggingface_to_uer.py``;
``pip install`` makes it the ``uer-convert-roberta-from-huggingface-to-uer`` command.
"""
from uer.cli.convert_roberta_from_huggingface_to_uer import main  # noqa: E402,F401 (main, and what tests build from)

if __name__ == "__main__":
    main()
