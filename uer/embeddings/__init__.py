"""Embedding layers, chosen by ``--embedding`` (and ``--tgt_embedding`` for decoders)."""
from uer.registry import Registry

EMBEDDINGS = Registry("embedding")

# Importing the modules registers them.
from uer.embeddings import word_embedding  # noqa: E402,F401
from uer.embeddings import sinusoidal_embedding  # noqa: E402,F401
