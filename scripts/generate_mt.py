"""The original name of ``generate_seq2seq.py`` (same flags, including ``--pretrained_model_path``,
``--input_path`` and ``--translation_path``); it simply runs that script."""
import os
import runpy

if __name__ == "__main__":
    runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "generate_seq2seq.py"),
                   run_name="__main__")
