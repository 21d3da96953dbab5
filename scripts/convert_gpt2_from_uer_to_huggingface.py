"""Convert UER GPT-2 checkpoints: UER -> Hugging Face (prints a key report; --check compares outputs).

The program is ``uer/cli/convert_gpt2_from_uer_to_huggingface.py``;
``pip install`` makes it the ``uer-convert-gpt2-from-uer-to-huggingface`` command.
"""
from uer.cli.convert_gpt2_from_uer_to_huggingface import main  # noqa: E402,F401 (main, and what tests build from)

if __name__ == "__main__":
    main()
