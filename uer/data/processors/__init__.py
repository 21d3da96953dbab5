"""Data processors, one per pre-training target: ``--target``/``--data_processor`` name -> class.

Each module registers one processor that both builds a target's instances (preprocess.py)
and collates them into batches (the pre-training loader).
"""
from uer.registry import Registry

DATA_PROCESSORS = Registry("data processor")

# Registration happens on import; the imports are at the bottom to avoid a cycle.
from uer.data.processors import albert, bert, bilm, cls, lm, mlm, prefixlm, seq2seq, t5  # noqa: E402,F401
