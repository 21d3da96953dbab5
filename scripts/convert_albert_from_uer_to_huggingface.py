"""Convert ALBERT: UER -> Hugging Face (AlbertForPreTraining, AlbertForMaskedLM or AlbertModel).

The program is ``uer/cli/convert_albert_from_uer_to_huggingface.py``;
``pip install`` makes it the ``uer-convert-albert-from-uer-to-huggingface`` command.
"""
from uer.cli.convert_albert_from_uer_to_huggingface import main  # noqa: E402,F401 (main, and what tests build from)

if __name__ == "__main__":
    main()
