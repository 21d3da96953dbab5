"""Key tables between Hugging Face ``transformers`` and UER for each supported architecture."""
from typing import Dict, List

from uer.conversion.core import (IDENTITY, SPLIT3, SPLIT3_TRANSPOSE, TRANSPOSE, Rule, Table, pad_rows,
                                 position_offset, segment_table)

ATTENTION = "encoder.transformer.{i}.self_attn."
LAYER = "encoder.transformer.{i}."


def _bert_layer_rules(hf_layer: str, uer_layer: str) -> List[Rule]:
    """A post-LN BERT block: HF (``attention.self.query`` ...) <-> UER (``self_attn.linear_layers.0`` ...)."""
    pairs = [("attention.self.query", "self_attn.linear_layers.0"), ("attention.self.key", "self_attn.linear_layers.1"),
             ("attention.self.value", "self_attn.linear_layers.2"), ("attention.output.dense", "self_attn.final_linear"),
             ("intermediate.dense", "feed_forward.linear_1"), ("output.dense", "feed_forward.linear_2")]
    rules = [Rule(f"{hf_layer}{hf}.{p}", (f"{uer_layer}{uer}.{p}",)) for hf, uer in pairs for p in ("weight", "bias")]
    for hf, uer in (("attention.output.LayerNorm", "layer_norm_1"), ("output.LayerNorm", "layer_norm_2")):
        rules += [Rule(f"{hf_layer}{hf}.weight", (f"{uer_layer}{uer}.gamma",)),
                  Rule(f"{hf_layer}{hf}.bias", (f"{uer_layer}{uer}.beta",))]
    return rules


def _embedding_rules(hf_rows: int = 2, offset: int = 0) -> List[Rule]:
    note = (f"position rows 0..{offset - 1} of Hugging Face (before the first real position, used only at "
            f"padding) are not kept by UER and come back as zeros") if offset else None
    return [
        Rule("embeddings.word_embeddings.weight", ("embedding.word_embedding.weight",)),
        Rule("embeddings.position_embeddings.weight", ("embedding.position_embedding.weight",),
             position_offset(offset) if offset else IDENTITY, note=note),
        Rule("embeddings.token_type_embeddings.weight", ("embedding.segment_embedding.weight",), segment_table(hf_rows)),
        Rule("embeddings.LayerNorm.weight", ("embedding.layer_norm.gamma",)),
        Rule("embeddings.LayerNorm.bias", ("embedding.layer_norm.beta",)),
    ]


def _mlm_head_rules(hf: str, word_embeddings: str, dense: str = "transform.dense", norm: str = "transform.LayerNorm",
                    targets=("bert", "mlm")) -> List[Rule]:
    return [
        Rule(f"{hf}.{dense}.weight", ("target.mlm_linear_1.weight",), targets=targets),
        Rule(f"{hf}.{dense}.bias", ("target.mlm_linear_1.bias",), targets=targets),
        Rule(f"{hf}.{norm}.weight", ("target.layer_norm.gamma",), targets=targets),
        Rule(f"{hf}.{norm}.bias", ("target.layer_norm.beta",), targets=targets),
        Rule(f"{hf}.decoder.weight", ("target.mlm_linear_2.weight",), fallback=word_embeddings,
             fallback_requires=f"{hf}.bias", targets=targets),
        Rule(f"{hf}.bias", ("target.mlm_linear_2.bias",), hf_aliases=(f"{hf}.decoder.bias",), targets=targets),
    ]


BERT = Table(
    "bert",
    _embedding_rules() + _bert_layer_rules("encoder.layer.{i}.", LAYER) + [
        Rule("pooler.dense.weight", ("target.nsp_linear_1.weight",), targets=("bert",)),
        Rule("pooler.dense.bias", ("target.nsp_linear_1.bias",), targets=("bert",)),
        Rule("cls.seq_relationship.weight", ("target.nsp_linear_2.weight",), targets=("bert",)),
        Rule("cls.seq_relationship.bias", ("target.nsp_linear_2.bias",), targets=("bert",)),
    ] + _mlm_head_rules("cls.predictions", "embeddings.word_embeddings.weight"),
    base_prefix="bert.", head_prefixes=("cls.",), ignore=(r"position_ids$",))



def _bert_task_table(name: str, head: List[Rule], head_prefix: str) -> Table:
    """BERT's embeddings and encoder under ``bert.`` plus one fine-tuning head (UER-py's key names)."""
    return Table(name, _embedding_rules() + _bert_layer_rules("encoder.layer.{i}.", LAYER) + head,
                 base_prefix="bert.", head_prefixes=(head_prefix,), ignore=(r"position_ids$",))


# run_classifier's head: tanh(output_layer_1(first token)) = BERT's pooler, output_layer_2 = classifier.
BERT_CLASSIFIER = _bert_task_table("bert_text_classification", [
    Rule("pooler.dense.weight", ("output_layer_1.weight",)), Rule("pooler.dense.bias", ("output_layer_1.bias",)),
    Rule("classifier.weight", ("output_layer_2.weight",)), Rule("classifier.bias", ("output_layer_2.bias",)),
], "classifier.")
# run_ner's head: ``output_layer`` keeps one unused row after the tags (UER-py's [PAD] label).
_PAD_ROW = ("UER's output_layer has one row more than Hugging Face's classifier: the last one, UER-py's "
            "[PAD] label, is never predicted (zeros on the way in, left out on the way back)")
BERT_TAGGER = _bert_task_table("bert_token_classification", [
    Rule("classifier.weight", ("output_layer.weight",), pad_rows(1), note=_PAD_ROW),
    Rule("classifier.bias", ("output_layer.bias",), pad_rows(1), note=_PAD_ROW),
], "classifier.")
# run_cmrc's head: ``output_layer`` [2 x H], row 0 scores answer starts, row 1 answer ends.
BERT_QA = _bert_task_table("bert_extractive_qa", [
    Rule("qa_outputs.weight", ("output_layer.weight",)), Rule("qa_outputs.bias", ("output_layer.bias",)),
], "qa_outputs.")

ROBERTA = Table(
    "roberta",
    _embedding_rules(hf_rows=1, offset=2) + _bert_layer_rules("encoder.layer.{i}.", LAYER)
    + _mlm_head_rules("lm_head", "embeddings.word_embeddings.weight", dense="dense", norm="layer_norm",
                      targets=("mlm",)),
    base_prefix="roberta.", head_prefixes=("lm_head.",), ignore=(r"position_ids$", r"^pooler\."))

_ALBERT_LAYER = "encoder.albert_layer_groups.0.albert_layers.0."
ALBERT = Table(
    "albert",
    _embedding_rules() + [
        Rule("encoder.embedding_hidden_mapping_in.weight", ("encoder.linear.weight",)),
        Rule("encoder.embedding_hidden_mapping_in.bias", ("encoder.linear.bias",)),
    ] + [Rule(f"{_ALBERT_LAYER}{hf}.{p}", (f"encoder.transformer.{uer}.{p}",))
         for hf, uer in (("attention.query", "self_attn.linear_layers.0"), ("attention.key", "self_attn.linear_layers.1"),
                         ("attention.value", "self_attn.linear_layers.2"), ("attention.dense", "self_attn.final_linear"),
                         ("ffn", "feed_forward.linear_1"), ("ffn_output", "feed_forward.linear_2"))
         for p in ("weight", "bias")]
    + [Rule(f"{_ALBERT_LAYER}{hf}.{p}", (f"encoder.transformer.{uer}.{q}",))
       for hf, uer in (("attention.LayerNorm", "layer_norm_1"), ("full_layer_layer_norm", "layer_norm_2"))
       for p, q in (("weight", "gamma"), ("bias", "beta"))]
    + [
        Rule("pooler.weight", ("target.sop_linear_1.weight",), targets=("albert",)),
        Rule("pooler.bias", ("target.sop_linear_1.bias",), targets=("albert",)),
        Rule("sop_classifier.classifier.weight", ("target.sop_linear_2.weight",), targets=("albert",)),
        Rule("sop_classifier.classifier.bias", ("target.sop_linear_2.bias",), targets=("albert",)),
    ] + _mlm_head_rules("predictions", "embeddings.word_embeddings.weight", dense="dense", norm="LayerNorm",
                        targets=("albert", "mlm")),
    base_prefix="albert.", head_prefixes=("predictions.", "sop_classifier."), ignore=(r"position_ids$",))

GPT2 = Table(
    "gpt2",
    [
        Rule("wte.weight", ("embedding.word_embedding.weight",)),
        Rule("wpe.weight", ("embedding.position_embedding.weight",)),
        Rule("h.{i}.attn.c_attn.weight", tuple(f"{ATTENTION}linear_layers.{k}.weight" for k in range(3)), SPLIT3_TRANSPOSE),
        Rule("h.{i}.attn.c_attn.bias", tuple(f"{ATTENTION}linear_layers.{k}.bias" for k in range(3)), SPLIT3),
        Rule("h.{i}.attn.c_proj.weight", (f"{ATTENTION}final_linear.weight",), TRANSPOSE),
        Rule("h.{i}.attn.c_proj.bias", (f"{ATTENTION}final_linear.bias",)),
        Rule("h.{i}.ln_1.weight", (f"{LAYER}layer_norm_1.gamma",)),
        Rule("h.{i}.ln_1.bias", (f"{LAYER}layer_norm_1.beta",)),
        Rule("h.{i}.mlp.c_fc.weight", (f"{LAYER}feed_forward.linear_1.weight",), TRANSPOSE),
        Rule("h.{i}.mlp.c_fc.bias", (f"{LAYER}feed_forward.linear_1.bias",)),
        Rule("h.{i}.mlp.c_proj.weight", (f"{LAYER}feed_forward.linear_2.weight",), TRANSPOSE),
        Rule("h.{i}.mlp.c_proj.bias", (f"{LAYER}feed_forward.linear_2.bias",)),
        Rule("h.{i}.ln_2.weight", (f"{LAYER}layer_norm_2.gamma",)),
        Rule("h.{i}.ln_2.bias", (f"{LAYER}layer_norm_2.beta",)),
        Rule("ln_f.weight", ("encoder.layer_norm.gamma",)),
        Rule("ln_f.bias", ("encoder.layer_norm.beta",)),
        Rule("lm_head.weight", ("target.output_layer.weight",), fallback="wte.weight", targets=("lm",)),
    ],
    base_prefix="transformer.", head_prefixes=("lm_head.",), ignore=(r"attn\.bias$", r"attn\.masked_bias$"))


def _t5_table(gated: bool) -> Table:
    ffn = ([("DenseReluDense.wi_0", "linear_gate"), ("DenseReluDense.wi_1", "linear_1")] if gated
           else [("DenseReluDense.wi", "linear_1")]) + [("DenseReluDense.wo", "linear_2")]
    attention = [("q", 0), ("k", 1), ("v", 2)]
    rules = [
        Rule("shared.weight", ("embedding.word_embedding.weight",), hf_aliases=("encoder.embed_tokens.weight",)),
        Rule("decoder.embed_tokens.weight", ("target.embedding.word_embedding.weight",), fallback="shared.weight"),
        Rule("lm_head.weight", ("target.output_layer.weight",), fallback="shared.weight"),
        Rule("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
             ("encoder.relative_pos_emb.relative_attention_bias.weight",)),
        Rule("decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
             ("target.decoder.self_pos_emb.relative_attention_bias.weight",)),
        Rule("encoder.final_layer_norm.weight", ("encoder.layer_norm.gamma",)),
        Rule("decoder.final_layer_norm.weight", ("target.decoder.layer_norm.gamma",)),
    ]
    enc, dec = "encoder.block.{i}.layer.", "target.decoder.transformer_decoder.{i}."
    rules += [Rule(f"{enc}0.SelfAttention.{hf}.weight", (f"{ATTENTION}linear_layers.{k}.weight",)) for hf, k in attention]
    rules += [Rule(f"{enc}0.SelfAttention.o.weight", (f"{ATTENTION}final_linear.weight",)),
              Rule(f"{enc}0.layer_norm.weight", (f"{LAYER}layer_norm_1.gamma",)),
              Rule(f"{enc}1.layer_norm.weight", (f"{LAYER}layer_norm_2.gamma",))]
    rules += [Rule(f"{enc}1.{hf}.weight", (f"{LAYER}feed_forward.{uer}.weight",)) for hf, uer in ffn]
    dec_hf = "decoder.block.{i}.layer."
    for block, uer in (("0.SelfAttention", "self_attn"), ("1.EncDecAttention", "context_attn")):
        rules += [Rule(f"{dec_hf}{block}.{hf}.weight", (f"{dec}{uer}.linear_layers.{k}.weight",)) for hf, k in attention]
        rules.append(Rule(f"{dec_hf}{block}.o.weight", (f"{dec}{uer}.final_linear.weight",)))
    rules += [Rule(f"{dec_hf}{k - 1}.layer_norm.weight", (f"{dec}layer_norm_{k}.gamma",)) for k in (1, 2, 3)]
    rules += [Rule(f"{dec_hf}2.{hf}.weight", (f"{dec}feed_forward.{uer}.weight",)) for hf, uer in ffn]
    return Table("t5-v1_1" if gated else "t5", rules)


T5 = _t5_table(gated=False)
T5_V1_1 = _t5_table(gated=True)

TABLES: Dict[str, Table] = {table.name: table for table in (BERT, ROBERTA, ALBERT, GPT2, T5, T5_V1_1, BERT_CLASSIFIER,
                                                             BERT_TAGGER, BERT_QA)}
