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


def init_t5_weights(parts: Tuple[nn.Module, ...], hidden_size: int) -> None:
    """T5's initialisation (Raffel et al., 2020; Mesh TensorFlow, as transformers' T5 ``_init_weights``):
    word embeddings N(0, 1); attention queries N(0, (d_model * d_kv)^-0.5), keys and values
    N(0, d_model^-0.5), its output N(0, (heads * d_kv)^-0.5); feed-forward inputs N(0, d_model^-0.5),
    output N(0, d_ff^-0.5); the relative position bias N(0, d_model^-0.5). An untied output layer
    (v1.1) gets Mesh TensorFlow's fan-in N(0, d_model^-0.5): transformers' N(0, 1) starts the logits
    at std sqrt(d_model) (a tiny v1.1 began at loss 27 and was at 9.6 after 100 AdamW steps, 5.8 with this).

    Why not BERT's N(0, 0.02): T5 does not scale attention scores by 1/sqrt(d_kv), and the tied
    output layer of T5 v1.0 multiplies the decoder output by d_model^-0.5, so with 0.02 everywhere
    attention starts uniform (scores of std ~0.1) and the logits at std 0.02 instead of 1: T5 v1.0
    barely learned (tests/test_t5_init.py).
    """
    from uer.embeddings.word_embedding import WordEmbedding
    from uer.layers.multi_headed_attn import MultiHeadedAttention
    from uer.layers.position_ffn import GatedFeedForward, PositionwiseFeedForward
    from uer.layers.relative_position_embedding import RelativePositionEmbedding

    def normal(layer: nn.Module, std: float) -> None:
        nn.init.normal_(layer.weight, mean=0.0, std=std)
        if getattr(layer, "bias", None) is not None:
            nn.init.zeros_(layer.bias)

    for part in parts:
        for module in part.modules():
            if isinstance(module, MultiHeadedAttention):
                query, key, value = module.linear_layers
                normal(query, (hidden_size * module.head_size) ** -0.5)
                normal(key, hidden_size ** -0.5)
                normal(value, hidden_size ** -0.5)
                normal(module.final_linear, (module.heads_num * module.head_size) ** -0.5)
            elif isinstance(module, (PositionwiseFeedForward, GatedFeedForward)):
                for layer in (module.linear_1, getattr(module, "linear_gate", None)):
                    if layer is not None:
                        normal(layer, hidden_size ** -0.5)
                normal(module.linear_2, module.linear_2.in_features ** -0.5)
            elif isinstance(module, RelativePositionEmbedding):
                normal(module.relative_attention_bias, hidden_size ** -0.5)
            elif isinstance(module, WordEmbedding):
                normal(module.word_embedding, 1.0)
        output_layer = getattr(part, "output_layer", None)
        if output_layer is not None:  # when tied, Model copies the embedding over it
            normal(output_layer, hidden_size ** -0.5)


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
    if full.target == "t5":
        init_t5_weights((embedding, encoder, target), full.hidden_size)
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
