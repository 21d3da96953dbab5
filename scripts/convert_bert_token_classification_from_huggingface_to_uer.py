"""Convert BERT token classifiers: Hugging Face -> UER (BertForTokenClassification <-> run_ner.py's head).

The program is ``uer/cli/convert_bert_token_classification_from_huggingface_to_uer.py``;
``pip install`` makes it the ``uer-convert-bert-token-classification-from-huggingface-to-uer`` command.
"""
from uer.cli.convert_bert_token_classification_from_huggingface_to_uer import main  # noqa: E402,F401 (main, and what tests build from)

if __name__ == "__main__":
    main()
