"""Encoders, chosen by ``--encoder``."""
from uer.registry import Registry

ENCODERS = Registry("encoder")

from uer.encoders import transformer_encoder  # noqa: E402,F401
from uer.encoders import rnn_encoder  # noqa: E402,F401
from uer.encoders import gatedcnn_encoder  # noqa: E402,F401
