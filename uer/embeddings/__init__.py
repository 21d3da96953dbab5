"""Embedding layers, chosen by ``--embedding`` (and ``--tgt_embedding`` for decoders)."""
from uer.registry import Registry

EMBEDDINGS = Registry("embedding")
# Embeddings whose position table has max_seq_length rows: longer inputs must be refused up front.
POSITION_TABLES = ("word_pos", "word_pos_seg", "word_sinusoidalpos")

# Importing the modules registers them.
from uer.embeddings import word_embedding  # noqa: E402,F401
from uer.embeddings import sinusoidal_embedding  # noqa: E402,F401
