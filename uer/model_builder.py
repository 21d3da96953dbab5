"""Build models from resolved options: ``embedding`` + ``encoder`` (+ ``target``) by registry name."""
import argparse
from argparse import Namespace
from typing import Optional, Tuple

import torch.nn as nn

from uer.embeddings import EMBEDDINGS
from uer.encoders import ENCODERS
from uer.models.model import Model
from uer.targets import TARGETS


def model_keys() -> Tuple[str, ...]:
    """The option names that shape a model: saved in every checkpoint's sidecar."""
    from uer.opts import model_opts

    parser = argparse.ArgumentParser(add_help=False)
    model_opts(parser)
    return tuple(action.dest for action in parser._actions)


def with_vocab(args: Namespace, vocab_size: int, tgt_vocab_size: Optional[int] = None) -> Namespace:
    """A copy of ``args`` carrying the vocabulary sizes (``args`` itself stays untouched)."""
    values = dict(vars(args))
    values["vocab_size"] = vocab_size
    values["tgt_vocab_size"] = tgt_vocab_size or getattr(args, "tgt_vocab_size", None) or vocab_size
    return Namespace(**values)


def init_weights(module: nn.Module, std: float = 0.02) -> None:
    """BERT-style initialisation: N(0, 0.02) for linear and embedding weights, zero biases.

    Norms, recurrent and convolutional layers keep their own defaults.
    """
    for submodule in module.modules():
        if isinstance(submodule, nn.Linear):
            nn.init.normal_(submodule.weight, mean=0.0, std=std)
            if submodule.bias is not None:
                nn.init.zeros_(submodule.bias)
        elif isinstance(submodule, nn.Embedding):
            nn.init.normal_(submodule.weight, mean=0.0, std=std)


def build_embedding_encoder(args: Namespace, vocab_size: int) -> Tuple[nn.Module, nn.Module]:
    """The embedding and encoder alone, for fine-tuning heads."""
    full = with_vocab(args, vocab_size)
    return EMBEDDINGS.build(full.embedding, full), ENCODERS.build(full.encoder, full)


def build_model(args: Namespace, vocab_size: int, tgt_vocab_size: Optional[int] = None) -> Model:
    """A pre-training model: embedding -> encoder -> target, with the requested weight tying."""
    full = with_vocab(args, vocab_size, tgt_vocab_size)
    embedding = EMBEDDINGS.build(full.embedding, full)
    encoder = ENCODERS.build(full.encoder, full)
    target = TARGETS.build(full.target, full)
    for part in (embedding, encoder, target):
        init_weights(part)
    # Model ties after initialisation, so a shared tensor holds the embedding's values.
    return Model(embedding, encoder, target, tie_weights=full.tie_weights, share_embedding=full.share_embedding)


def model_args(options: Optional[dict] = None) -> Namespace:
    """The model options' defaults updated with ``options`` (e.g. a sidecar or converted config)."""
    from uer.opts import model_opts

    parser = argparse.ArgumentParser(add_help=False)
    model_opts(parser)
    args = parser.parse_args([])
    for key, value in (options or {}).items():
        setattr(args, key, value)
    return args
