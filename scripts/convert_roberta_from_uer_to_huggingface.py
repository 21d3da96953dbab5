"""Convert RoBERTa: UER -> Hugging Face (RobertaForMaskedLM or RobertaModel).

The program is ``uer/cli/convert_roberta_from_uer_to_huggingface.py``;
``pip install`` makes it the ``uer-convert-roberta-from-uer-to-huggingface`` command.
"""
from uer.cli.convert_roberta_from_uer_to_huggingface import main  # noqa: E402,F401 (main, and what tests build from)

if __name__ == "__main__":
    main()
