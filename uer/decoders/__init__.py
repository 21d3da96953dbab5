"""Decoders for sequence-to-sequence targets, chosen by ``--decoder``."""
from uer.registry import Registry

DECODERS = Registry("decoder")

from uer.decoders import transformer_decoder  # noqa: E402,F401
