"""Hugging Face ``config.json`` <-> UER options (sizes and architecture flags) per architecture."""
from typing import Any, Dict

from uer.conversion.core import Table
from uer.conversion.tables import ALBERT, BERT, GPT2, ROBERTA, T5, T5_V1_1
from uer.utils.errors import UserInputError

HF_ACT = {"gelu": "gelu", "gelu_new": "gelu_fast", "gelu_pytorch_tanh": "gelu_fast", "relu": "relu",
          "silu": "silu", "swish": "silu", "linear": "linear"}
UER_ACT = {"gelu": "gelu", "gelu_fast": "gelu_new", "relu": "relu", "silu": "silu", "linear": "linear"}

BERT_ARCH = {"embedding": "word_pos_seg", "encoder": "transformer", "mask": "fully_visible",
             "layernorm_positioning": "post"}
GPT2_ARCH = {"embedding": "word_pos", "remove_embedding_layernorm": True, "encoder": "transformer", "mask": "causal",
             "layernorm_positioning": "pre", "target": "lm", "tie_weights": True}
T5_ARCH = {"embedding": "word", "tgt_embedding": "word", "remove_embedding_layernorm": True,
           "relative_position_embedding": True, "encoder": "transformer", "decoder": "transformer",
           "mask": "fully_visible", "layernorm_positioning": "pre", "layernorm": "t5", "remove_transformer_bias": True,
           "remove_attention_scale": True, "target": "t5", "share_embedding": True}


def _activation(name: str) -> str:
    if name not in HF_ACT:
        raise UserInputError(f"activation '{name}' of the Hugging Face config has no UER equivalent")
    return HF_ACT[name]


def uer_options(table: Table, hf: Dict[str, Any]) -> Dict[str, Any]:
    """UER options that rebuild the Hugging Face model described by its config dict."""
    if table in (BERT, ROBERTA, ALBERT):
        options = dict(BERT_ARCH, hidden_size=hf["hidden_size"], heads_num=hf["num_attention_heads"],
                       feedforward_size=hf["intermediate_size"], layers_num=hf["num_hidden_layers"],
                       hidden_act=_activation(hf.get("hidden_act", "gelu")),
                       layernorm_eps=hf.get("layer_norm_eps", 1e-12), vocab_size=hf["vocab_size"],
                       dropout=hf.get("hidden_dropout_prob", 0.1),
                       max_seq_length=hf["max_position_embeddings"] - (2 if table is ROBERTA else 0))
        options["emb_size"] = hf.get("embedding_size", hf["hidden_size"])
        options["target"] = {"bert": "bert", "roberta": "mlm", "albert": "albert"}[table.name]
        if table is ALBERT:
            options.update(factorized_embedding_parameterization=True, parameter_sharing=True)
        if table is ROBERTA:
            options["tie_weights"] = True
        return options
    if table is GPT2:
        return dict(GPT2_ARCH, emb_size=hf["n_embd"], hidden_size=hf["n_embd"], heads_num=hf["n_head"],
                    feedforward_size=hf.get("n_inner") or 4 * hf["n_embd"], layers_num=hf["n_layer"],
                    hidden_act=_activation(hf.get("activation_function", "gelu_new")),
                    layernorm_eps=hf.get("layer_norm_epsilon", 1e-5), max_seq_length=hf["n_positions"],
                    vocab_size=hf["vocab_size"], dropout=hf.get("resid_pdrop", 0.1))
    if table in (T5, T5_V1_1):
        projection = hf.get("feed_forward_proj", "relu")
        gated = projection.startswith("gated-")
        return dict(T5_ARCH, emb_size=hf["d_model"], hidden_size=hf["d_model"], heads_num=hf["num_heads"],
                    attention_head_size=hf["d_kv"], feedforward_size=hf["d_ff"], layers_num=hf["num_layers"],
                    decoder_layers_num=hf.get("num_decoder_layers") or hf["num_layers"],
                    hidden_act=_activation(hf.get("dense_act_fn") or (projection[len("gated-"):] if gated else projection)),
                    feed_forward="gated" if gated else "dense", layernorm_eps=hf.get("layer_norm_epsilon", 1e-6),
                    relative_attention_num_buckets=hf.get("relative_attention_num_buckets", 32),
                    # transformers 5 always ties and keeps "does the output get rescaled" apart.
                    tie_weights=hf.get("scale_decoder_outputs", hf.get("tie_word_embeddings", True)),
                    vocab_size=hf["vocab_size"],
                    dropout=hf.get("dropout_rate", 0.1), max_seq_length=512)
    raise ValueError(f"no config mapping for {table.name}")


def hf_config(table: Table, options: Dict[str, Any]) -> Dict[str, Any]:
    """A Hugging Face config dict for the UER model described by ``options`` (a sidecar)."""
    act = UER_ACT[options.get("hidden_act", "gelu")]
    if table in (BERT, ROBERTA, ALBERT):
        config = {"hidden_size": options["hidden_size"], "num_attention_heads": options["heads_num"],
                  "intermediate_size": options["feedforward_size"], "num_hidden_layers": options["layers_num"],
                  "hidden_act": act, "layer_norm_eps": options.get("layernorm_eps", 1e-12),
                  "vocab_size": options["vocab_size"], "type_vocab_size": 1 if table is ROBERTA else 2,
                  "max_position_embeddings": options.get("max_seq_length", 512) + (2 if table is ROBERTA else 0)}
        if table is BERT:
            config.update(model_type="bert", architectures=["BertForPreTraining"])
        elif table is ROBERTA:
            config.update(model_type="roberta", architectures=["RobertaForMaskedLM"], pad_token_id=1,
                          bos_token_id=0, eos_token_id=2)
        else:
            config.update(model_type="albert", architectures=["AlbertForPreTraining"],
                          embedding_size=options["emb_size"], num_hidden_groups=1, inner_group_num=1)
        return config
    if table is GPT2:
        return {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_embd": options["hidden_size"],
                "n_head": options["heads_num"], "n_layer": options["layers_num"],
                "n_inner": options["feedforward_size"], "activation_function": act,
                "layer_norm_epsilon": options.get("layernorm_eps", 1e-5), "n_positions": options["max_seq_length"],
                "vocab_size": options["vocab_size"], "tie_word_embeddings": bool(options.get("tie_weights", True))}
    if table in (T5, T5_V1_1):
        gated = options.get("feed_forward") == "gated"
        return {"model_type": "t5", "architectures": ["T5ForConditionalGeneration"], "d_model": options["hidden_size"],
                "d_kv": options.get("attention_head_size") or options["hidden_size"] // options["heads_num"],
                "d_ff": options["feedforward_size"], "num_heads": options["heads_num"],
                "num_layers": options["layers_num"],
                "num_decoder_layers": options.get("decoder_layers_num") or options["layers_num"],
                # Hugging Face reads "gated-gelu" as the tanh approximation (gelu_new).
                "feed_forward_proj": ("gated-" + ("gelu" if act == "gelu_new" else act)) if gated else act,
                "dense_act_fn": act,
                "layer_norm_epsilon": options.get("layernorm_eps", 1e-6),
                "relative_attention_num_buckets": options.get("relative_attention_num_buckets", 32),
                "vocab_size": options["vocab_size"], "tie_word_embeddings": bool(options.get("tie_weights", True)),
                "decoder_start_token_id": 0, "pad_token_id": 0, "eos_token_id": 1}
    raise ValueError(f"no config mapping for {table.name}")
