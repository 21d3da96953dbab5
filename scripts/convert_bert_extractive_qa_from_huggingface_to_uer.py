"""Convert BERT extractive QA: Hugging Face -> UER (BertForQuestionAnswering <-> run_cmrc.py's head).

The program is ``uer/cli/convert_bert_extractive_qa_from_huggingface_to_uer.py``;
``pip install`` makes it the ``uer-convert-bert-extractive-qa-from-huggingface-to-uer`` command.
"""
from uer.cli.convert_bert_extractive_qa_from_huggingface_to_uer import main  # noqa: E402,F401 (main, and what tests build from)

if __name__ == "__main__":
    main()
