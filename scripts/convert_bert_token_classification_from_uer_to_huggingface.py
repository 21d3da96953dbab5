"""Convert BERT token classifiers: UER -> Hugging Face (BertForTokenClassification <-> run_ner.py's head).

The program is ``uer/cli/convert_bert_token_classification_from_uer_to_huggingface.py``;
``pip install`` makes it the ``uer-convert-bert-token-classification-from-uer-to-huggingface`` command.
"""
from uer.cli.convert_bert_token_classification_from_uer_to_huggingface import main  # noqa: E402,F401 (main, and what tests build from)

if __name__ == "__main__":
    main()
