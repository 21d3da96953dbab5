"""What each conversion script converts: a key table, the ``transformers`` classes it pairs with and,
for the BERT task heads, the task metadata carried between ``config.json`` and the UER sidecar."""
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional, Tuple

import torch

from uer.conversion.core import Table, active_rules
from uer.conversion.hf_config import hf_config, uer_options
from uer.conversion.tables import ALBERT, BERT, BERT_CLASSIFIER, BERT_QA, BERT_TAGGER, GPT2, ROBERTA, T5, T5_V1_1
from uer.utils.errors import UserInputError

BACKBONE_PREFIXES = ("embedding.", "encoder.")


@dataclass(frozen=True)
class Head:
    """A ``transformers`` class and the outputs of it that the parity check compares."""

    hf_class: str
    outputs: Tuple[str, ...]


@dataclass(eq=False)
class Spec:
    """One architecture (or BERT + one task head) as the conversion scripts see it.

    ``heads`` is keyed by ``--target`` (``""`` for task heads, which have none); ``base_class`` is
    the bare ``transformers`` model compared (last hidden states) when the weights have no head.
    """

    name: str
    table: Table
    model_type: str
    heads: Dict[str, Head]
    base_class: str
    task: Optional[str] = None  # "classification", "tagging", "extractive_qa"; None = pre-training
    extra: Dict[str, Any] = field(default_factory=dict)  # sidecar keys of the task

    @property
    def targets(self) -> Tuple[str, ...]:
        return tuple(name for name in self.heads if name)

    def default_target(self) -> Optional[str]:
        return self.targets[0] if self.targets else None


_T5_HEAD = {"t5": Head("T5ForConditionalGeneration", ("logits",))}
SPECS: Dict[str, Spec] = {spec.name: spec for spec in (
    Spec("bert", BERT, "bert", {"bert": Head("BertForPreTraining", ("prediction_logits", "seq_relationship_logits")),
                                "mlm": Head("BertForMaskedLM", ("logits",))}, "BertModel"),
    Spec("roberta", ROBERTA, "roberta", {"mlm": Head("RobertaForMaskedLM", ("logits",))}, "RobertaModel"),
    Spec("albert", ALBERT, "albert", {"albert": Head("AlbertForPreTraining", ("prediction_logits", "sop_logits")),
                                      "mlm": Head("AlbertForMaskedLM", ("logits",))}, "AlbertModel"),
    Spec("gpt2", GPT2, "gpt2", {"lm": Head("GPT2LMHeadModel", ("logits",))}, "GPT2Model"),
    Spec("t5", T5, "t5", _T5_HEAD, "T5EncoderModel"),
    Spec("t5-v1_1", T5_V1_1, "t5", _T5_HEAD, "T5EncoderModel"),
    Spec("mt5", T5_V1_1, "mt5", {"t5": Head("MT5ForConditionalGeneration", ("logits",))}, "MT5EncoderModel"),
    Spec("bert_text_classification", BERT_CLASSIFIER, "bert",
         {"": Head("BertForSequenceClassification", ("logits",))}, "BertModel", "classification",
         {"pooling": "first"}),
    Spec("bert_token_classification", BERT_TAGGER, "bert",
         {"": Head("BertForTokenClassification", ("logits",))}, "BertModel", "tagging", {"crf_target": False}),
    Spec("bert_extractive_qa", BERT_QA, "bert",
         {"": Head("BertForQuestionAnswering", ("start_logits", "end_logits"))}, "BertModel", "extractive_qa"),
)}
T5_TYPES = ("t5", "t5-v1_1", "mt5")


# model_type values whose weights share a spec's key layout (XLM-R and CamemBERT are RoBERTa).
MODEL_TYPES = {"bert": ("bert",), "roberta": ("roberta", "xlm-roberta", "camembert"), "albert": ("albert",),
               "gpt2": ("gpt2",), "t5": ("t5", "mt5"), "mt5": ("t5", "mt5")}


def check_model_type(spec: Spec, hf_cfg: Dict[str, Any], source: Optional[str]) -> None:
    """A config.json of another architecture (a GPT-2 folder given to the BERT script) is an error."""
    found = hf_cfg.get("model_type")
    if found is not None and found not in MODEL_TYPES.get(spec.model_type, (spec.model_type,)):
        raise UserInputError(f"this config describes a '{found}' model but this script converts "
                             f"{spec.model_type} models", path=source)


def spec_for(table_or_spec) -> Spec:
    """The spec of a table (the lead's scripts pass tables) or the spec itself."""
    if isinstance(table_or_spec, Spec):
        return table_or_spec
    for spec in SPECS.values():
        if spec.table is table_or_spec:
            return spec
    raise ValueError(f"no conversion spec for table {table_or_spec.name}")


def t5_spec(requested: Optional[str], gated: bool, model_type: Optional[str] = None) -> Spec:
    """The T5 variant: ``--type`` when given (it must agree with the weights), else what they show."""
    found = "mt5" if model_type == "mt5" else "t5-v1_1" if gated else "t5"
    if requested is None:
        return SPECS[found]
    if (requested != "t5") != gated:
        found_text = ("gated (T5 v1.1 / mT5: use --type t5-v1_1 or mt5)" if gated
                      else "not gated (T5 v1.0: use --type t5)")
        raise UserInputError(f"--type {requested} does not match the weights: their feed-forward layers are "
                             f"{found_text}")
    return SPECS[requested]


def head_keys(spec: Spec, target: Optional[str], layers_num: int) -> Tuple[str, ...]:
    """The UER keys of the head (everything outside the embedding and the encoder) for ``target``."""
    keys = [key for rule in active_rules(spec.table, target, layers_num) for key in rule.uer]
    return tuple(key for key in keys if not key.startswith(BACKBONE_PREFIXES))


def has_head(spec: Spec, target: Optional[str], state: Dict[str, torch.Tensor], layers_num: int) -> bool:
    """Whether ``state`` holds every tensor of the spec's head (else only the backbone is compared)."""
    keys = head_keys(spec, target, layers_num)
    return bool(keys) and all(key in state for key in keys)


def pick_target(spec: Spec, typed: Optional[str], saved: Optional[str],
                complete: Callable[[str], bool]) -> Optional[str]:
    """The typed --target, else the saved one, else the first whose head the weights hold entirely."""
    if typed or not spec.targets:
        return typed or spec.default_target()
    if saved in spec.targets:
        return saved
    return next((target for target in spec.targets if complete(target)), spec.default_target())


def shared_layers(spec: Spec, requested: Optional[int], options: Optional[Dict]) -> Optional[int]:
    """ALBERT shares one layer: its depth comes from --layers_num or the config, which must agree."""
    if any("{i}" in rule.hf for rule in spec.table.rules):
        return requested
    configured = (options or {}).get("layers_num")
    if requested is not None and configured is not None and requested != configured:
        raise UserInputError(f"--layers_num {requested} does not match the config's {configured} layers")
    return requested if requested is not None else configured


def _labels(hf_cfg: Dict[str, Any], rows: int) -> Optional[Dict[str, int]]:
    """HF ``id2label`` as UER's ``label2id``; None for transformers' placeholder names (LABEL_0...)."""
    id2label = {int(k): str(v) for k, v in (hf_cfg.get("id2label") or {}).items()}
    if sorted(id2label) != list(range(rows)) or all(v == f"LABEL_{k}" for k, v in id2label.items()):
        return None
    return {name: index for index, name in sorted(id2label.items())}


def sidecar_options(spec: Spec, hf_cfg: Dict[str, Any], uer_state: Dict[str, torch.Tensor],
                    target: Optional[str]) -> Dict[str, Any]:
    """UER sidecar options for the converted model: architecture, sizes and the task's metadata."""
    options = uer_options(spec.table, hf_cfg)
    options["model_type"] = spec.model_type  # descriptive: lets the way back pick mt5 over t5
    if target:
        options["target"] = target
    if spec.task is None:
        return options
    for key in ("target", "tie_weights"):  # a fine-tuned model has a head, not a pre-training target
        options.pop(key, None)
    options.update(spec.extra)
    # The head's size from its weights, else (options read from config.json alone) from id2label.
    configured = len(hf_cfg.get("id2label") or {}) or None
    if spec.task == "classification":
        rows = uer_state["output_layer_2.weight"].size(0) if "output_layer_2.weight" in uer_state else configured
        if rows:
            options["labels_num"] = rows
            label2id = _labels(hf_cfg, rows)
            if label2id:
                options["label2id"] = label2id
    if spec.task == "tagging":
        rows = uer_state["output_layer.weight"].size(0) - 1 if "output_layer.weight" in uer_state else configured
        if rows:
            options["label2id"] = _labels(hf_cfg, rows) or {f"LABEL_{k}": k for k in range(rows)}
    return options


def hf_config_for(spec: Spec, options: Dict[str, Any], uer_state: Dict[str, torch.Tensor],
                  head: bool) -> Dict[str, Any]:
    """The ``config.json`` of the converted model (``architectures`` names the class with or without head)."""
    config = hf_config(spec.table, options, model_type=spec.model_type)
    chosen = spec.heads.get(options.get("target") or "") or next(iter(spec.heads.values()))
    config["architectures"] = [chosen.hf_class if head else spec.base_class]
    output = next((key for key in ("target.mlm_linear_2.weight", "target.output_layer.weight") if key in uer_state),
                  None)
    if spec.task is None and output and spec.model_type not in ("t5", "mt5"):
        # Tie in transformers only where the weights are tied: else from_pretrained would share one.
        config["tie_word_embeddings"] = bool(torch.equal(uer_state[output],
                                                         uer_state["embedding.word_embedding.weight"]))
    if spec.task == "classification":
        if options.get("pooling", "first") != "first":
            raise UserInputError(f"this classifier pools with '{options['pooling']}' but Hugging Face's "
                                 f"BertForSequenceClassification always uses the first token: it would compute "
                                 f"something else")
        rows = uer_state["output_layer_2.weight"].size(0) if "output_layer_2.weight" in uer_state \
            else options.get("labels_num") or 2
        config.update(_label_config(options.get("label2id"), rows))
    if spec.task == "tagging":
        if options.get("crf_target") or any(key.startswith("crf.") for key in uer_state):
            raise UserInputError("this tagger scores with a CRF (--crf_target), which Hugging Face's "
                                 "BertForTokenClassification does not have: it would predict otherwise")
        rows = uer_state["output_layer.weight"].size(0) - 1 if "output_layer.weight" in uer_state \
            else len(options.get("label2id") or {}) or 2
        config.update(_label_config(options.get("label2id"), rows))
    return config


def _label_config(label2id: Optional[Dict[str, int]], rows: int) -> Dict[str, Any]:
    if label2id and sorted(label2id.values()) == list(range(rows)):
        id2label = {index: name for name, index in label2id.items()}
    else:
        if label2id:
            raise UserInputError(f"the sidecar's label map has {len(label2id)} labels but the head has {rows} "
                                 f"outputs")
        id2label = {index: f"LABEL_{index}" for index in range(rows)}
    return {"id2label": {str(k): v for k, v in sorted(id2label.items())},
            "label2id": {v: k for k, v in sorted(id2label.items())}}
