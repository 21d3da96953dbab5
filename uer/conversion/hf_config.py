"""Hugging Face ``config.json`` <-> UER options (sizes and architecture flags) per architecture."""
from typing import Any, Dict, Optional

from uer.conversion.core import Table
from uer.conversion.tables import ALBERT, BERT, BERT_CLASSIFIER, BERT_QA, BERT_TAGGER, GPT2, ROBERTA, T5, T5_V1_1
from uer.utils.errors import UserInputError

HF_ACT = {"gelu": "gelu", "gelu_new": "gelu_fast", "gelu_pytorch_tanh": "gelu_fast", "gelu_fast": "gelu_fast",
          "gelu_python": "gelu", "relu": "relu", "silu": "silu", "swish": "silu", "linear": "linear"}
UER_ACT = {"gelu": "gelu", "gelu_fast": "gelu_new", "relu": "relu", "silu": "silu", "linear": "linear"}

BERT_ARCH = {"embedding": "word_pos_seg", "encoder": "transformer", "mask": "fully_visible",
             "layernorm_positioning": "post"}
GPT2_ARCH = {"embedding": "word_pos", "remove_embedding_layernorm": True, "encoder": "transformer", "mask": "causal",
             "layernorm_positioning": "pre", "target": "lm", "tie_weights": True}
T5_ARCH = {"embedding": "word", "tgt_embedding": "word", "remove_embedding_layernorm": True,
           "relative_position_embedding": True, "encoder": "transformer", "decoder": "transformer",
           "mask": "fully_visible", "layernorm_positioning": "pre", "layernorm": "t5", "remove_transformer_bias": True,
           "remove_attention_scale": True, "target": "t5", "share_embedding": True}

BERT_FAMILY = (BERT, ROBERTA, ALBERT, BERT_CLASSIFIER, BERT_TAGGER, BERT_QA)
BERT_TARGETS = {"bert": "bert", "roberta": "mlm", "albert": "albert"}
# Hugging Face's default activation per model type when a config.json leaves it out.
DEFAULT_ACT = {"albert": "gelu_new", "gpt2": "gelu_new"}


def architecture(table: Table) -> Dict[str, Any]:
    """The architecture options a UER model needs for ``table``'s key layout (heads and tying aside)."""
    plain = {"feed_forward": "dense", "layernorm": "normal", "remove_transformer_bias": False,
             "relative_position_embedding": False, "factorized_embedding_parameterization": False,
             "parameter_sharing": False}
    if table in BERT_FAMILY:
        arch = dict(plain, **BERT_ARCH, remove_embedding_layernorm=False)
        if table is ALBERT:
            arch.update(factorized_embedding_parameterization=True, parameter_sharing=True)
        return arch
    if table is GPT2:
        return dict(plain, **{k: v for k, v in GPT2_ARCH.items() if k not in ("target", "tie_weights")})
    if table in (T5, T5_V1_1):
        arch = {k: v for k, v in T5_ARCH.items() if k not in ("target", "share_embedding", "tgt_embedding", "decoder")}
        return dict(arch, feed_forward="gated" if table is T5_V1_1 else "dense")
    raise ValueError(f"no architecture for {table.name}")


def _activation(name: str) -> str:
    if name not in HF_ACT:
        raise UserInputError(f"activation '{name}' of the Hugging Face config has no UER equivalent")
    return HF_ACT[name]


def _require(hf: Dict[str, Any], keys) -> None:
    missing = [key for key in keys if key not in hf]
    if missing:
        raise UserInputError(f"the Hugging Face config lacks {', '.join(missing)}: is it the config of this model?")


def _supported(hf: Dict[str, Any], settings: Dict[str, Any]) -> None:
    """Config values UER has no option for must be the ones it computes, else the outputs would differ."""
    for key, value in settings.items():
        if hf.get(key, value) != value:
            raise UserInputError(f"{key} = {hf[key]!r} in the Hugging Face config is not supported "
                                 f"(UER computes {value!r})")


def t5_activation(hf: Dict[str, Any]) -> str:
    """Hugging Face derives T5's activation from ``feed_forward_proj`` (``gated-gelu`` means gelu_new)."""
    projection = hf.get("feed_forward_proj", "relu")
    return "gelu_new" if projection == "gated-gelu" else projection.split("-")[-1]


def _bert_options(table: Table, hf: Dict[str, Any]) -> Dict[str, Any]:
    _require(hf, ("hidden_size", "num_attention_heads", "intermediate_size", "num_hidden_layers", "vocab_size",
                  "max_position_embeddings"))
    _supported(hf, {"position_embedding_type": "absolute"})
    model_type = hf.get("model_type", "bert")
    options = dict(BERT_ARCH, hidden_size=hf["hidden_size"], heads_num=hf["num_attention_heads"],
                   feedforward_size=hf["intermediate_size"], layers_num=hf["num_hidden_layers"],
                   hidden_act=_activation(hf.get("hidden_act", DEFAULT_ACT.get(model_type, "gelu"))),
                   layernorm_eps=hf.get("layer_norm_eps", 1e-12), vocab_size=hf["vocab_size"],
                   dropout=hf.get("hidden_dropout_prob", 0.1),
                   max_seq_length=hf["max_position_embeddings"] - (2 if table is ROBERTA else 0))
    options["emb_size"] = hf.get("embedding_size", hf["hidden_size"])
    options["target"] = BERT_TARGETS.get(table.name, "bert")
    if table is ALBERT:
        if hf.get("num_hidden_groups", 1) != 1 or hf.get("inner_group_num", 1) != 1:
            raise UserInputError("ALBERT with num_hidden_groups or inner_group_num other than 1 is not supported: "
                                 "UER's ALBERT shares one layer across the whole stack")
        options.update(factorized_embedding_parameterization=True, parameter_sharing=True)
    # Hugging Face ties the MLM output to the word embeddings unless the config says otherwise.
    options["tie_weights"] = bool(hf.get("tie_word_embeddings", True))
    return options


def uer_options(table: Table, hf: Dict[str, Any]) -> Dict[str, Any]:
    """UER options that rebuild the Hugging Face model described by its config dict."""
    if table in BERT_FAMILY:
        return _bert_options(table, hf)
    if table is GPT2:
        _require(hf, ("n_embd", "n_head", "n_layer", "n_positions", "vocab_size"))
        _supported(hf, {"scale_attn_weights": True, "scale_attn_by_inverse_layer_idx": False,
                        "reorder_and_upcast_attn": False})
        return dict(GPT2_ARCH, emb_size=hf["n_embd"], hidden_size=hf["n_embd"], heads_num=hf["n_head"],
                    feedforward_size=hf.get("n_inner") or 4 * hf["n_embd"], layers_num=hf["n_layer"],
                    hidden_act=_activation(hf.get("activation_function", "gelu_new")),
                    layernorm_eps=hf.get("layer_norm_epsilon", 1e-5), max_seq_length=hf["n_positions"],
                    vocab_size=hf["vocab_size"], dropout=hf.get("resid_pdrop", 0.1),
                    tie_weights=bool(hf.get("tie_word_embeddings", True)))
    if table in (T5, T5_V1_1):
        _require(hf, ("d_model", "num_heads", "d_kv", "d_ff", "num_layers", "vocab_size"))
        _supported(hf, {"relative_attention_max_distance": 128})
        gated = hf.get("feed_forward_proj", "relu").startswith("gated-")
        if hf.get("model_type") == "mt5":
            scaled = False  # mT5 never rescales the decoder output; its lm_head is its own matrix
        else:  # transformers 5 always ties and keeps "does the output get rescaled" apart
            scaled = hf.get("scale_decoder_outputs", hf.get("tie_word_embeddings", True))
        return dict(T5_ARCH, emb_size=hf["d_model"], hidden_size=hf["d_model"], heads_num=hf["num_heads"],
                    attention_head_size=hf["d_kv"], feedforward_size=hf["d_ff"], layers_num=hf["num_layers"],
                    decoder_layers_num=hf.get("num_decoder_layers") or hf["num_layers"],
                    hidden_act=_activation(t5_activation(hf)),
                    feed_forward="gated" if gated else "dense", layernorm_eps=hf.get("layer_norm_epsilon", 1e-6),
                    relative_attention_num_buckets=hf.get("relative_attention_num_buckets", 32),
                    tie_weights=bool(scaled), vocab_size=hf["vocab_size"],
                    dropout=hf.get("dropout_rate", 0.1), max_seq_length=512)
    raise ValueError(f"no config mapping for {table.name}")


def _t5_projection(act: str, gated: bool) -> str:
    if not gated:
        return act
    # Hugging Face reads "gated-gelu" as the tanh approximation; exact GELU is spelled gelu_python.
    return "gated-" + {"gelu_new": "gelu", "gelu": "gelu_python"}.get(act, act)


def hf_config(table: Table, options: Dict[str, Any], model_type: Optional[str] = None) -> Dict[str, Any]:
    """A Hugging Face config dict for the UER model described by ``options`` (a sidecar).

    ``model_type`` picks a sibling of the table's architecture (``mt5`` for the T5 v1.1 table).
    """
    act = UER_ACT[options.get("hidden_act", "gelu")]
    if table in BERT_FAMILY:
        config = {"hidden_size": options["hidden_size"], "num_attention_heads": options["heads_num"],
                  "intermediate_size": options["feedforward_size"], "num_hidden_layers": options["layers_num"],
                  "hidden_act": act, "layer_norm_eps": options.get("layernorm_eps", 1e-12),
                  "vocab_size": options["vocab_size"], "type_vocab_size": 1 if table is ROBERTA else 2,
                  "max_position_embeddings": options.get("max_seq_length", 512) + (2 if table is ROBERTA else 0),
                  "hidden_dropout_prob": options.get("dropout", 0.1),
                  "attention_probs_dropout_prob": options.get("dropout", 0.1)}
        if table is ROBERTA:
            config.update(model_type="roberta", architectures=["RobertaForMaskedLM"], pad_token_id=1,
                          bos_token_id=0, eos_token_id=2)
        elif table is ALBERT:
            config.update(model_type="albert", architectures=["AlbertForPreTraining"],
                          embedding_size=options["emb_size"], num_hidden_groups=1, inner_group_num=1)
        else:
            config.update(model_type="bert", architectures=["BertForPreTraining"], pad_token_id=0)
        return config
    if table is GPT2:
        return {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_embd": options["hidden_size"],
                "n_head": options["heads_num"], "n_layer": options["layers_num"],
                "n_inner": options["feedforward_size"], "activation_function": act,
                "layer_norm_epsilon": options.get("layernorm_eps", 1e-5), "n_positions": options["max_seq_length"],
                "vocab_size": options["vocab_size"], "tie_word_embeddings": bool(options.get("tie_weights", True)),
                # GPT-2's <|endoftext|> is its last token.
                "bos_token_id": options["vocab_size"] - 1, "eos_token_id": options["vocab_size"] - 1}
    if table in (T5, T5_V1_1):
        gated = options.get("feed_forward") == "gated"
        model_type = model_type or "t5"
        architecture_name = "MT5ForConditionalGeneration" if model_type == "mt5" else "T5ForConditionalGeneration"
        config = {"model_type": model_type, "architectures": [architecture_name],
                  "d_model": options["hidden_size"],
                  "d_kv": options.get("attention_head_size") or options["hidden_size"] // options["heads_num"],
                  "d_ff": options["feedforward_size"], "num_heads": options["heads_num"],
                  "num_layers": options["layers_num"],
                  "num_decoder_layers": options.get("decoder_layers_num") or options["layers_num"],
                  "feed_forward_proj": _t5_projection(act, gated), "dense_act_fn": act,
                  "layer_norm_epsilon": options.get("layernorm_eps", 1e-6),
                  "relative_attention_num_buckets": options.get("relative_attention_num_buckets", 32),
                  "vocab_size": options["vocab_size"],
                  # False = no d_model^-0.5 rescaling of the decoder output and an lm_head of its own.
                  "tie_word_embeddings": bool(options.get("tie_weights", True)),
                  "decoder_start_token_id": 0, "pad_token_id": 0, "eos_token_id": 1}
        if model_type == "mt5" and config["tie_word_embeddings"]:
            raise UserInputError("this T5 model ties its output layer to the embeddings (T5 v1.0) but mT5 never "
                                 "does: convert it with --type t5")
        return config
    raise ValueError(f"no config mapping for {table.name}")
