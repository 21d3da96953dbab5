"""Convert Chinese RoBERTa extractive QA: UER -> Hugging Face (BertForQuestionAnswering <-> run_cmrc.py's head).

The program is ``uer/cli/convert_roberta_extractive_qa_from_uer_to_huggingface.py``;
``pip install`` makes it the ``uer-convert-roberta-extractive-qa-from-uer-to-huggingface`` command.
"""
from uer.cli.convert_roberta_extractive_qa_from_uer_to_huggingface import main  # noqa: E402,F401 (main, and what tests build from)

if __name__ == "__main__":
    main()
