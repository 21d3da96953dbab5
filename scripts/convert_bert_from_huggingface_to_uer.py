"""Convert Hugging Face BERT checkpoints: Hugging Face -> UER (prints a key report; --check compares outputs).

The program is ``uer/cli/convert_bert_from_huggingface_to_uer.py``;
``pip install`` makes it the ``uer-convert-bert-from-huggingface-to-uer`` command.
"""
from uer.cli.convert_bert_from_huggingface_to_uer import main  # noqa: E402,F401 (main, and what tests build from)

if __name__ == "__main__":
    main()
