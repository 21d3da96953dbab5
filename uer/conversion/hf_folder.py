"""A Hugging Face model folder read in place: ``config.json`` + ``model.safetensors`` or
``pytorch_model.bin`` (with or without tokenizer files), as a UER checkpoint and its options.

``--pretrained_model_path`` and ``--load_model_path`` of every script take such a folder: the
option resolution (``uer.utils.config.parse_args``) reads ``folder_options`` where it would read a
sidecar, and the model loader reads ``read_hf_folder`` where it would read a ``.bin``. The
weights go through the converters' key tables (``uer.conversion.tables``), so a folder loads into
exactly what ``convert_*_from_huggingface_to_uer.py`` would have written.

This module and the ones it imports (``core``, ``tables``, ``hf_config``, ``specs``,
``hf_tokenizer``) stand on ``uer.weight_files``, ``uer.model_saver``, ``uer.tokenizers`` and
``uer.utils`` only, so the model loader can use them.
"""
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import torch

from uer.conversion.core import ConversionReport, hf_to_uer
from uer.conversion.hf_tokenizer import folder_vocabulary
from uer.conversion.specs import (MODEL_TYPES, SPECS, T5_TYPES, Spec, has_head, pick_target, shared_layers,
                                  sidecar_options, t5_spec)
from uer.utils.config import read_json
from uer.utils.errors import UserInputError
from uer.weight_files import FOLDER_WEIGHT_FILES, load_state_dict_file

CONFIG_FILE = "config.json"
# transformers task classes whose head has a UER counterpart (the rest: the backbone is read).
TASK_SPECS = {"BertForSequenceClassification": "bert_text_classification",
              "BertForTokenClassification": "bert_token_classification",
              "BertForQuestionAnswering": "bert_extractive_qa"}
# Options that say what the weights compute: a flag the user typed against them is a contradiction.
# The others (dropout, the pre-training target, the task metadata, the vocabulary files) are the
# user's to choose.
FREE_OPTIONS = {"dropout", "target", "tie_weights", "labels_num", "label2id", "pooling", "crf_target", "model_type",
                "vocab_size", "vocab_path", "spm_model_path", "merges_path", "tokenizer", "do_lower_case"}


@dataclass
class HfFolder:
    """What ``read_hf_folder`` returns: UER options (a sidecar's content), UER-keyed weights, the
    folder's vocabulary (``vocab.txt``, a SentencePiece model or ``vocab.json``; None without one)
    and the lines of the conversion report."""

    options: Dict[str, Any]
    state: Dict[str, torch.Tensor]
    vocab_path: Optional[str]
    report: List[str]


def is_hf_folder(path: Optional[str]) -> bool:
    """A folder holding ``config.json`` and Hugging Face weights (not a UER checkpoint)."""
    return bool(path) and os.path.isdir(path) and os.path.isfile(os.path.join(path, CONFIG_FILE)) and any(
        os.path.isfile(os.path.join(path, name)) for name in FOLDER_WEIGHT_FILES)


def weight_keys(folder: str) -> List[str]:
    """The tensor names of a folder's weights (safetensors: without reading the tensors)."""
    path = os.path.join(folder, FOLDER_WEIGHT_FILES[0])
    if os.path.isfile(path):
        from safetensors import safe_open

        try:
            with safe_open(path, framework="pt") as handle:
                return list(handle.keys())
        except Exception:  # a damaged file: let the full read report it
            pass
    return list(load_state_dict_file(folder))


def _task_from_keys(keys: List[str]) -> Optional[str]:
    """The transformers BERT task class whose head these weights hold (configs without ``architectures``)."""
    if "qa_outputs.weight" in keys:
        return "BertForQuestionAnswering"
    if "classifier.weight" in keys:
        pooled = "bert.pooler.dense.weight" in keys
        return "BertForSequenceClassification" if pooled else "BertForTokenClassification"
    return None


def folder_spec(hf_cfg: Dict[str, Any], source: str, gated: Optional[bool] = None,
                keys: Optional[List[str]] = None) -> Spec:
    """The converter spec of a config: its ``model_type``, and for BERT task heads its
    ``architectures`` (or, when the config names none, the head the weight ``keys`` hold)."""
    model_type = hf_cfg.get("model_type")
    family = next((name for name, types in MODEL_TYPES.items() if model_type in types and name != "mt5"), None)
    if family is None:
        readable = sorted({t for types in MODEL_TYPES.values() for t in types})
        raise UserInputError(f"model_type {model_type!r}: uer reads Hugging Face folders of {', '.join(readable)} "
                             f"models", path=source)
    if family == "t5":
        if gated is None:
            gated = str(hf_cfg.get("feed_forward_proj", "relu")).startswith("gated-")
        return t5_spec(None, gated, model_type)
    architecture = (hf_cfg.get("architectures") or [None])[0]
    if family == "bert" and architecture is None and keys is not None:
        architecture = _task_from_keys(keys)
    if family == "bert" and architecture in TASK_SPECS:
        return SPECS[TASK_SPECS[architecture]]
    return SPECS[family]


def declared_target(spec: Spec, hf_cfg: Dict[str, Any]) -> Optional[str]:
    """The pre-training target whose transformers class the config names (BertForMaskedLM -> mlm)."""
    architecture = (hf_cfg.get("architectures") or [None])[0]
    return next((target for target, head in spec.heads.items() if target and head.hf_class == architecture), None)


def folder_options(path: str) -> Dict[str, Any]:
    """The UER options of a folder from its config.json and tokenizer files (the weights are not read)."""
    source = os.path.join(path, CONFIG_FILE)
    hf_cfg = read_json(source)
    keys = weight_keys(path) if hf_cfg.get("model_type") == "bert" and not hf_cfg.get("architectures") else None
    spec = folder_spec(hf_cfg, source, keys=keys)
    return dict(sidecar_options(spec, hf_cfg, {}, declared_target(spec, hf_cfg) or spec.default_target()),
                **folder_vocabulary(path))


def hf_state_to_uer(spec: Spec, hf_state: Dict[str, torch.Tensor], hf_cfg: Optional[Dict[str, Any]],
                    t5_type: Optional[str] = None, target: Optional[str] = None,
                    layers_num: Optional[int] = None) -> Tuple[Spec, Optional[str], Dict[str, torch.Tensor],
                                                               ConversionReport]:
    """Hugging Face weights -> UER weights through ``spec``'s table: (spec, target, state, report).

    T5 weights pick their variant (``t5_type`` or what they show); the target is the one asked for,
    else the one the config's class names, else the first whose head the weights hold entirely.
    """
    if spec.name in T5_TYPES:
        gated = any(".DenseReluDense.wi_0." in key for key in hf_state)
        spec = t5_spec(t5_type, gated, (hf_cfg or {}).get("model_type"))
    layers = shared_layers(spec, layers_num, sidecar_options(spec, hf_cfg, {}, None) if hf_cfg else None)

    def complete(name: str) -> bool:
        state, report = hf_to_uer(hf_state, spec.table, target=name, layers_num=layers)
        return has_head(spec, name, state, report.layers_num)

    target = pick_target(spec, target, declared_target(spec, hf_cfg or {}), complete)
    state, report = hf_to_uer(hf_state, spec.table, target=target, layers_num=layers)
    return spec, target, state, report


def read_hf_folder(path: str) -> HfFolder:
    """Read a Hugging Face model folder as UER: options, weights, vocabulary and report lines.

    Raises a UserInputError for a folder that is not one (no config.json or weights), a model type
    uer has no table for, or a config the weights contradict.
    """
    if not is_hf_folder(path):
        raise UserInputError(f"not a Hugging Face model folder: expected {CONFIG_FILE} and "
                             f"{' or '.join(FOLDER_WEIGHT_FILES)} in it", path=path)
    source = os.path.join(path, CONFIG_FILE)
    hf_cfg = read_json(source)
    hf_state = load_state_dict_file(path)
    gated = any(".DenseReluDense.wi_0." in key for key in hf_state)
    spec, target, state, report = hf_state_to_uer(folder_spec(hf_cfg, source, gated, list(hf_state)), hf_state,
                                                  hf_cfg)
    if not state:
        raise UserInputError(f"none of the weights has a {spec.table.name} key name: do config.json and the "
                             f"weights belong together?", path=path)
    vocabulary = folder_vocabulary(path)
    options = dict(sidecar_options(spec, hf_cfg, state, target), **vocabulary)
    vocab_path = vocabulary.get("spm_model_path") or vocabulary.get("vocab_path")
    architecture = (hf_cfg.get("architectures") or [spec.base_class])[0]
    lines = [f"{path}: Hugging Face {hf_cfg.get('model_type')} folder ({architecture}) read as UER "
             f"{spec.name}" + (f" with --target {target}" if target else "") +
             f": {len(report.mapped)} tensors converted to UER names ({report.layers_num} layers)"]
    if report.absent:
        lines.append(f"absent from the folder ({len(report.absent)}): {_listed(report.absent)}")
    if report.dropped:
        lines.append(f"not converted ({len(report.dropped)}): {_listed(report.dropped)}")
    lines += [f"note: {note}" for note in report.notes]
    lines.append(f"vocabulary: {vocab_path}" if vocab_path else "vocabulary: none in the folder (give --vocab_path)")
    return HfFolder(options, state, vocab_path, lines)


def _listed(keys: List[str], limit: int = 6) -> str:
    return ", ".join(keys[:limit]) + (f", ... ({len(keys) - limit} more)" if len(keys) > limit else "")
